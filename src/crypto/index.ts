export * from "./der.js";
export * from "./ecdsa.js";
export * from "./pck.js";
export * from "./pem.js";
export * from "./rsa.js";
export * from "./x509.js";
