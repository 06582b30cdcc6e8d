/**
 * The file operations the guest providers use, behind an interface so tests can substitute a faithful fake of
 * configfs/sysfs semantics (commit-on-close, per-fd snapshots) that a plain directory cannot show.
 */
import { constants } from "node:fs";
import { access, mkdir, open, readdir, rmdir } from "node:fs/promises";
import { concatBytes } from "../abi/bytes.js";

export interface GuestFile {
  /** One read(2) into buf; 0 at end of file. */
  read(buf: Uint8Array): Promise<number>;
  /** One write(2) of buf; returns the count the kernel accepted. */
  write(buf: Uint8Array): Promise<number>;
  close(): Promise<void>;
}

export interface GuestFs {
  /** "rw" is a character device both written and read through one descriptor (the TPM's). */
  open(path: string, mode: "r" | "w" | "rw"): Promise<GuestFile>;
  mkdir(path: string): Promise<void>;
  rmdir(path: string): Promise<void>;
  exists(path: string): Promise<boolean>;
  /** Names in a directory (configfs-tsm report instances). */
  readdir(path: string): Promise<string[]>;
}

export const nodeGuestFs: GuestFs = {
  async open(path, mode) {
    const fh = await open(
      path,
      mode === "r" ? constants.O_RDONLY : mode === "w" ? constants.O_WRONLY : constants.O_RDWR,
    );
    return {
      read: async (buf) => (await fh.read(buf, 0, buf.length, null)).bytesRead,
      write: async (buf) => (await fh.write(buf, 0, buf.length, null)).bytesWritten,
      close: () => fh.close(),
    };
  },
  mkdir: async (path) => {
    await mkdir(path);
  },
  rmdir: (path) => rmdir(path),
  readdir: (path) => readdir(path),
  exists: async (path) => {
    try {
      await access(path, constants.F_OK);
      return true;
    } catch {
      return false;
    }
  },
};

/** Read a file to end of file through a fresh descriptor (configfs snapshots a blob per open file). */
export async function readWhole(fs: GuestFs, path: string): Promise<Uint8Array> {
  const f = await fs.open(path, "r");
  try {
    const chunks: Uint8Array[] = [];
    for (;;) {
      const buf = new Uint8Array(65536);
      const n = await f.read(buf);
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
    }
    return concatBytes(...chunks);
  } finally {
    await f.close();
  }
}

/** One write(2) of exactly `bytes`, then close (configfs delivers binary attributes on close). */
export async function writeOnceAndClose(fs: GuestFs, path: string, bytes: Uint8Array): Promise<number> {
  const f = await fs.open(path, "w");
  let n: number;
  try {
    n = await f.write(bytes);
  } catch (e) {
    await f.close().catch(() => {});
    throw e;
  }
  await f.close();
  return n;
}
