/**
 * Best-effort decoding of TCG event data for display (`eventlog show`): UEFI variable names, strings,
 * firmware blobs, image device paths, tagged events. Never trusted for replay; never throws.
 */
import { bytesEqual, hex, sha384, utf8 } from "./bytes.js";
import type { TcgEvent } from "./tcg.js";
import { sha384DigestOf } from "./tcg.js";

export type EventDetails = Record<string, unknown>;

function guid(b: Uint8Array): string {
  const h = (s: Uint8Array) => hex(s);
  const rev = (s: Uint8Array) => h(Uint8Array.from(s).reverse());
  return `${rev(b.subarray(0, 4))}-${rev(b.subarray(4, 6))}-${rev(b.subarray(6, 8))}-${h(b.subarray(8, 10))}-${h(b.subarray(10, 16))}`;
}

/**
 * Printable text if the bytes are (NUL-terminated) UTF-8 text, else null. Bytes after the first NUL are
 * ignored when the text before it makes up most of the data (firmware sometimes leaves a stray byte there).
 */
export function printableText(b: Uint8Array): string | null {
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  const nul = b.subarray(0, end).indexOf(0);
  if (nul >= 3 && nul * 2 >= b.length) end = nul;
  if (end === 0) return null;
  const body = b.subarray(0, end);
  for (const c of body) if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return null;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(body);
    return /\p{Cc}/u.test(text.replace(/[\t\n\r]/g, "")) ? null : text;
  } catch {
    return null;
  }
}

function utf16(b: Uint8Array): string | null {
  if (b.length % 2 !== 0) return null;
  let s = "";
  for (let i = 0; i < b.length; i += 2) {
    const c = b[i]! | (b[i + 1]! << 8);
    if (c === 0) break;
    if (c < 0x20) return null;
    s += String.fromCharCode(c);
  }
  return s;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Text rendering of the common UEFI device-path nodes; unknown nodes as Type(t,s). */
export function devicePathText(b: Uint8Array): string[] {
  const out: string[] = [];
  let p = 0;
  while (p + 4 <= b.length) {
    const type = b[p]!;
    const sub = b[p + 1]!;
    const len = b[p + 2]! | (b[p + 3]! << 8);
    if (len < 4 || p + len > b.length) break;
    const node = b.subarray(p + 4, p + len);
    const v = view(node);
    if (type === 0x7f) break; // End of device path.
    if (type === 0x04 && sub === 0x04) out.push(`File(${utf16(node) ?? "?"})`);
    else if (type === 0x04 && sub === 0x06 && node.length >= 16) out.push(`FvFile(${guid(node)})`);
    else if (type === 0x04 && sub === 0x07 && node.length >= 16) out.push(`Fv(${guid(node)})`);
    else if (type === 0x04 && sub === 0x01 && node.length >= 38) {
      const sigType = node[37] === 2 ? "GPT" : node[37] === 1 ? "MBR" : `sig${node[37]}`;
      const sig = node[37] === 2 ? guid(node.subarray(20, 36)).toUpperCase() : hex(node.subarray(20, 24));
      out.push(
        `HD(${v.getUint32(0, true)},${sigType},${sig},0x${v.getBigUint64(4, true).toString(16)},0x${v.getBigUint64(12, true).toString(16)})`,
      );
    } else if (type === 0x02 && sub === 0x01 && node.length >= 8) {
      const hid = v.getUint32(0, true);
      const pnp =
        (hid & 0xffff) === 0x41d0
          ? `PNP${(hid >>> 16).toString(16).toUpperCase().padStart(4, "0")}`
          : `0x${hid.toString(16)}`;
      out.push(`ACPI(${pnp},${v.getUint32(4, true)})`);
    } else if (type === 0x01 && sub === 0x01 && node.length >= 2) out.push(`Pci(${node[1]},${node[0]})`);
    else if (type === 0x03 && sub === 0x12 && node.length >= 6)
      out.push(`Sata(${v.getUint16(0, true)},${v.getUint16(2, true)},${v.getUint16(4, true)})`);
    else if (type === 0x03 && sub === 0x02 && node.length >= 4)
      out.push(`Scsi(${v.getUint16(0, true)},${v.getUint16(2, true)})`);
    else if (type === 0x03 && sub === 0x17 && node.length >= 4)
      out.push(`NVMe(0x${v.getUint32(0, true).toString(16)})`);
    else if (type === 0x03 && sub === 0x0a && node.length >= 16) out.push(`VenMsg(${guid(node)})`);
    else if (type === 0x01 && sub === 0x04 && node.length >= 16) out.push(`VenHw(${guid(node)})`);
    else if (type === 0x04 && sub === 0x03 && node.length >= 16) out.push(`VenMedia(${guid(node)})`);
    else if (type === 0x01 && sub === 0x03 && node.length >= 20) {
      out.push(
        `MemoryMapped(${v.getUint32(0, true)},0x${v.getBigUint64(4, true).toString(16)},0x${v.getBigUint64(12, true).toString(16)})`,
      );
    } else out.push(`Path(${type},${sub})`);
    p += len;
  }
  return out;
}

function variableData(d: Uint8Array): EventDetails | null {
  // UEFI_VARIABLE_DATA { GUID; u64 nameLength (chars); u64 dataLength; CHAR16 name[]; u8 data[] }
  if (d.length < 32) return null;
  const v = view(d);
  const nameLen = v.getBigUint64(16, true);
  const dataLen = v.getBigUint64(24, true);
  if (nameLen > BigInt(d.length) || dataLen > BigInt(d.length)) return null;
  const nameEnd = 32 + Number(nameLen) * 2;
  if (nameEnd + Number(dataLen) > d.length) return null;
  const name = utf16(d.subarray(32, nameEnd));
  if (name === null) return null;
  return {
    variableGuid: guid(d.subarray(0, 16)),
    variableName: name,
    dataLength: Number(dataLen),
    variableData: d.subarray(nameEnd, nameEnd + Number(dataLen)),
  };
}

/** Decoded fields of a TCG event's data (display only). */
export function describeTcgEvent(ev: TcgEvent): EventDetails {
  const d = ev.data;
  const v = view(d);
  const out: EventDetails = {};
  if (ev.specId) {
    const s = ev.specId;
    return {
      specIdSignature: s.signature,
      specVersion: `${s.specVersionMajor}.${s.specVersionMinor} errata ${s.specErrata}`,
      uintnSize: s.uintnSize,
      algorithms: s.algorithms.map(
        (a) => `${a.algorithm}(0x${a.algorithmId.toString(16).padStart(4, "0")}):${a.digestSize}`,
      ),
      vendorInfo: printableText(s.vendorInfo) ?? hex(s.vendorInfo),
    };
  }
  switch (ev.type) {
    case 0x80000001:
    case 0x80000002:
    case 0x8000000c:
    case 0x800000e0: {
      const vd = variableData(d);
      if (vd) {
        const { variableData: data, ...rest } = vd;
        Object.assign(out, rest);
        if (ev.type !== 0x800000e0 && (data as Uint8Array).length <= 64) out.value = hex(data as Uint8Array);
        if (ev.type === 0x80000002 || ev.type === 0x8000000c) {
          // EFI_LOAD_OPTION { u32 attributes; u16 filePathListLength; CHAR16 description[]; ... }
          const lo = data as Uint8Array;
          if (/^Boot[0-9A-F]{4}$/.test(String(vd.variableName)) && lo.length > 6) {
            let e = 6;
            while (e + 1 < lo.length && (lo[e] !== 0 || lo[e + 1] !== 0)) e += 2;
            const desc = utf16(lo.subarray(6, e));
            if (desc !== null) out.description = desc;
            const fpl = lo[4]! | (lo[5]! << 8);
            if (e + 2 + fpl <= lo.length) out.devicePath = devicePathText(lo.subarray(e + 2, e + 2 + fpl));
          }
        }
      } else {
        const text = printableText(d);
        if (text !== null) out.string = text;
      }
      break;
    }
    case 0x80000003:
    case 0x80000004:
    case 0x80000005: {
      // UEFI_IMAGE_LOAD_EVENT { u64 location; u64 length; u64 linkTimeAddress; u64 devicePathLength; path }
      if (d.length >= 32) {
        const dpl = v.getBigUint64(24, true);
        out.imageLocation = `0x${v.getBigUint64(0, true).toString(16)}`;
        out.imageLength = Number(v.getBigUint64(8, true));
        if (dpl <= BigInt(d.length - 32)) out.devicePath = devicePathText(d.subarray(32, 32 + Number(dpl)));
      }
      break;
    }
    case 0x8000000a:
    case 0x8000000b: {
      // BLOB2 { u8 descSize; desc; u64 base; u64 length }, HANDOFF_TABLES2 { u8 descSize; desc; u64 n; ... }
      if (d.length >= 1 && 1 + d[0]! <= d.length) {
        const desc = printableText(d.subarray(1, 1 + d[0]!));
        if (desc !== null) out.string = desc;
        const rest = 1 + d[0]!;
        if (ev.type === 0x8000000a && rest + 16 <= d.length) {
          out.blobBase = `0x${v.getBigUint64(rest, true).toString(16)}`;
          out.blobLength = Number(v.getBigUint64(rest + 8, true));
        }
        if (ev.type === 0x8000000b && rest + 8 <= d.length)
          out.tableCount = Number(v.getBigUint64(rest, true));
      }
      break;
    }
    case 0x00000004:
      if (d.length === 4) out.separator = `0x${v.getUint32(0, true).toString(16).padStart(8, "0")}`;
      break;
    case 0x00000006: {
      // TCG_PCClientTaggedEvent { u32 taggedEventID; u32 taggedEventDataSize; data }
      if (d.length >= 8) {
        const id = v.getUint32(0, true);
        const size = v.getUint32(4, true);
        out.taggedEventId = `0x${id.toString(16).padStart(8, "0")}`;
        const idText = printableText(
          Uint8Array.of(id >>> 24, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff),
        );
        if (idText !== null && idText.length === 4) out.taggedEventTag = idText;
        if (8 + size <= d.length) {
          const text = printableText(d.subarray(8, 8 + size));
          if (text !== null) out.string = text;
          else out.taggedEventDataLength = size;
        }
      }
      break;
    }
    case 0x80000006:
    case 0x8000000d: {
      // UEFI_GPT_DATA { EFI_PARTITION_TABLE_HEADER (92); u64 numberOfPartitions; entries }
      if (d.length >= 100) out.partitions = Number(v.getBigUint64(92, true));
      break;
    }
    case 0x0000000d: {
      const text = printableText(d);
      if (text !== null) out.string = text;
      else if (d.length >= 2 && d[0] === 0x2e && d[1] === 0x00) {
        // GCE/GKE UKI sections: a UTF-16 section name after a 2-byte prefix.
        const u = utf16(d.subarray(0, d.length - (d.length % 2)));
        if (u !== null) out.string = u;
      }
      break;
    }
    case 0x0000000a: {
      // td-shim: TD_SHIM_PLATFORM_CONFIG_INFO { u8 descriptor[16] (NUL-padded); u32 infoLength; info };
      // TDVF/OVMF: a plain string such as "ACPI DATA" or "etc/acpi/tables".
      const text = printableText(d);
      if (text !== null) out.string = text;
      else if (d.length >= 20) {
        const desc = printableText(d.subarray(0, 16));
        const len = v.getUint32(16, true);
        if (desc !== null && 20 + len <= d.length) {
          const info = printableText(d.subarray(20, 20 + len));
          out.string = info === null ? desc : `${desc} ${info}`;
        }
      }
      break;
    }
    default: {
      const text = printableText(d);
      if (text !== null) out.string = text;
      else if (ev.type === 0x00000003 && d.length >= 16) {
        const sig = printableText(d.subarray(0, 16));
        if (sig !== null) out.signature = sig;
      }
    }
  }
  if (ev.dataTruncated) out.dataTruncated = true;
  return out;
}

/**
 * Whether the SHA-384 digest is the hash of the event data itself (true for EV_SEPARATOR, EV_EFI_ACTION,
 * UEFI variable config events...; false where the digest covers something else, such as a PE image or ACPI
 * tables). Informational: replay never depends on it.
 */
export function digestIsHashOfEvent(ev: TcgEvent): boolean | null {
  const d = sha384DigestOf(ev);
  if (!d || ev.dataTruncated) return null;
  return bytesEqual(d, sha384(ev.data));
}

export type DigestBinding = "event-data" | "command-text" | "variable-data" | "tagged-event-data" | "other";

/**
 * What the SHA-384 digest is the hash of, when the log itself shows it: the whole event data (EV_SEPARATOR,
 * EV_EFI_ACTION, EV_EFI_VARIABLE_DRIVER_CONFIG...), the command after grub's "grub_cmd: " prefix (EV_IPL),
 * only the UEFI variable's data (EV_EFI_VARIABLE_BOOT:
 * BootOrder, Boot####), or only a tagged event's payload (EV_EVENT_TAG: QEMU's kernel command line). "other"
 * means the digest covers something not in the log (a PE image, ACPI tables, a firmware volume); null when the
 * event has no SHA-384 digest. Only after replay matched may event content bound this way be trusted.
 */
export function digestBinding(ev: TcgEvent): DigestBinding | null {
  const d = sha384DigestOf(ev);
  if (!d || ev.dataTruncated) return null;
  if (bytesEqual(d, sha384(ev.data))) return "event-data";
  // grub EV_IPL "grub_cmd: CMD" / "kernel_cmdline: LINE": the digest covers CMD/LINE without the NUL.
  if (ev.type === 0x0000000d) {
    const text = printableText(ev.data);
    const m = text === null ? null : /^(grub_cmd|kernel_cmdline|grub_kernel_cmdline): ([\s\S]*)$/.exec(text);
    if (m && bytesEqual(d, sha384(utf8(m[2]!)))) return "command-text";
  }
  if (ev.type === 0x80000002 || ev.type === 0x8000000c) {
    const vd = variableData(ev.data);
    if (vd && bytesEqual(d, sha384(vd.variableData as Uint8Array))) return "variable-data";
  }
  if (ev.type === 0x00000006 && ev.data.length >= 8) {
    const size = view(ev.data).getUint32(4, true);
    if (8 + size <= ev.data.length && bytesEqual(d, sha384(ev.data.subarray(8, 8 + size))))
      return "tagged-event-data";
  }
  return "other";
}
