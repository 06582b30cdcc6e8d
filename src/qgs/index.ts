export * from "./address.js";
export * from "./client.js";
export { errnoName, type Libc, loadLibc, type PinnedMemory, SyscallError, setLibcForTesting } from "./ffi.js";
export * from "./framing.js";
export * from "./protocol.js";
export * from "./server.js";
export * from "./sim-backend.js";
export * from "./tdreport.js";
export * from "./tdvmcall.js";
