/**
 * The VMM behind the seed driver's TDX_CMD_GET_QUOTE, loaded by the child process of src/guest/quote-child.ts
 * in place of koffi (plain JavaScript: the child runs without the TypeScript toolchain). It models what the
 * seed's tdx_get_quote() (cc-api/linux arch/x86/coco/tdx/attest.c) does with the {u64 buf; u64 len} argument:
 * copy the GetQuote buffer, issue the TDVMCALL (RETRY → EIO), wait without a timeout for the host's
 * completion, copy the buffer back. The 2021-2022 Intel driver does not know this ioctl (EINVAL).
 * Configured by FakeTdxKernel.quoteHost(); `state` persists RETRY counts across child processes.
 */
import { readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { constants } from "node:os";

const SEED_GET_QUOTE = 0x80105402;

export function createQuoteLibc(data) {
  const pinned = new Map();
  let nextAddress = 0x7f0000100000n;
  let lastErrno = 0;
  const fail = (name) => {
    lastErrno = constants.errno[name];
    return -1;
  };
  return {
    errno: () => lastErrno,
    allocPinned(size) {
      const address = nextAddress;
      nextAddress += 0x100000n;
      const bytes = new Uint8Array(size);
      pinned.set(address, bytes);
      return { address, bytes, free: () => pinned.delete(address) };
    },
    async ioctl(_fd, request, arg) {
      if (data.driver !== "seed" || request !== SEED_GET_QUOTE) return fail("EINVAL");
      const dv = new DataView(arg.buffer, arg.byteOffset, 16);
      const mem = pinned.get(dv.getBigUint64(0, true));
      const len = Number(dv.getBigUint64(8, true));
      if (!mem || len === 0 || len > mem.length) return fail(len === 0 ? "EINVAL" : "EFAULT");
      const state = JSON.parse(readFileSync(data.state, "utf8"));
      state.calls++;
      const retry = state.retriesLeft > 0;
      if (retry) state.retriesLeft--;
      writeFileSync(data.state, JSON.stringify(state));
      if (retry) return fail("EIO");
      const hdr = new DataView(mem.buffer, mem.byteOffset, 24);
      if (data.vmm === "silent") {
        // No completion interrupt ever comes: the system call does not return.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
      }
      if (data.vmm === "service-unavailable") {
        hdr.setBigUint64(8, 0x8000000000000001n, true);
        return 0;
      }
      const inLen = hdr.getUint32(16, true);
      const response = await exchange(data.qgs, mem.subarray(24, 24 + inLen));
      if (24 + response.length > len) {
        hdr.setBigUint64(8, 0x8000000000000000n, true);
        return 0;
      }
      mem.set(response, 24);
      hdr.setUint32(20, response.length, true);
      hdr.setBigUint64(8, 0n, true);
      return 0;
    },
  };
}

/** Pass the framed QGS request through and return the framed answer (length prefix included). */
function exchange(path, frame) {
  return new Promise((resolve, reject) => {
    const s = net.connect(path);
    const chunks = [];
    let have = 0;
    s.on("data", (c) => {
      chunks.push(c);
      have += c.length;
      const all = Buffer.concat(chunks);
      if (all.length >= 4 && all.length >= 4 + all.readUInt32BE(0)) {
        s.destroy();
        resolve(new Uint8Array(all.subarray(0, 4 + all.readUInt32BE(0))));
      }
    });
    s.on("error", reject);
    s.on("end", () => reject(new Error(`QGS closed after ${have} bytes`)));
    s.write(frame);
  });
}
