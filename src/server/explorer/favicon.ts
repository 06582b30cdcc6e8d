/**
 * The explorer's icon as an ICO file, drawn here pixel by pixel so no image blob lives in the repository.
 * It is static/favicon.svg (a check mark on the page's accent blue, rounded corners) at 16x16: the SVG is
 * what the page links, the ICO answers `/favicon.ico`, where browsers and other clients look by convention.
 */

/** 16x16: `.` transparent, `b` the accent blue (#0b63ce), `w` white. Top row first. */
export const FAVICON_PIXELS = [
  ".bbbbbbbbbbbbbb.",
  "bbbbbbbbbbbbbbbb",
  "bbbbbbbbbbbbbbbb",
  "bbbbbbbbbbbwwbbb",
  "bbbbbbbbbbbwwbbb",
  "bbbbbbbbbbwwwbbb",
  "bbbbbbbbbwwwbbbb",
  "bbbwwbbbwwwbbbbb",
  "bbbwwwbwwwbbbbbb",
  "bbbwwwwwwbbbbbbb",
  "bbbbwwwwbbbbbbbb",
  "bbbbbwwwbbbbbbbb",
  "bbbbbbbbbbbbbbbb",
  "bbbbbbbbbbbbbbbb",
  "bbbbbbbbbbbbbbbb",
  ".bbbbbbbbbbbbbb.",
] as const;

/** RGBA of each pixel letter (test/server/explorer-assets.test.ts checks that the map uses only these). */
export const FAVICON_PALETTE: Record<string, readonly [number, number, number, number]> = {
  ".": [0, 0, 0, 0],
  b: [0x0b, 0x63, 0xce, 0xff],
  w: [0xff, 0xff, 0xff, 0xff],
};

/**
 * An ICO file holding one 32-bit BMP image (Microsoft's ICO layout: ICONDIR, one ICONDIRENTRY, then a
 * BITMAPINFOHEADER whose height counts the colour rows and the AND mask rows, both stored bottom-up).
 */
export function faviconIco(): Buffer {
  const pixels = FAVICON_PIXELS;
  const size = pixels.length;
  const maskStride = Math.ceil(size / 32) * 4; // 1 bit a pixel, rows padded to 32 bits
  const colourBytes = size * size * 4;
  const imageBytes = 40 + colourBytes + maskStride * size;
  const out = Buffer.alloc(6 + 16 + imageBytes);
  // ICONDIR: reserved, type 1 (icon), one image.
  out.writeUInt16LE(0, 0);
  out.writeUInt16LE(1, 2);
  out.writeUInt16LE(1, 4);
  // ICONDIRENTRY: width, height, no palette, reserved, 1 plane, 32 bits a pixel, byte count, offset.
  out.writeUInt8(size, 6);
  out.writeUInt8(size, 7);
  out.writeUInt16LE(1, 10);
  out.writeUInt16LE(32, 12);
  out.writeUInt32LE(imageBytes, 14);
  out.writeUInt32LE(22, 18);
  // BITMAPINFOHEADER.
  const bmp = 22;
  out.writeUInt32LE(40, bmp);
  out.writeInt32LE(size, bmp + 4);
  out.writeInt32LE(size * 2, bmp + 8);
  out.writeUInt16LE(1, bmp + 12);
  out.writeUInt16LE(32, bmp + 14);
  out.writeUInt32LE(colourBytes + maskStride * size, bmp + 20);
  const colours = bmp + 40;
  const mask = colours + colourBytes;
  for (let y = 0; y < size; y++) {
    const row = pixels[size - 1 - y] ?? ""; // bottom-up
    for (let x = 0; x < size; x++) {
      const [r, g, b, a] = FAVICON_PALETTE[row[x] ?? "."] ?? [0, 0, 0, 0];
      out.set([b, g, r, a], colours + (y * size + x) * 4); // BGRA
      if (a === 0) {
        const at = mask + y * maskStride + (x >> 3);
        out.writeUInt8(out.readUInt8(at) | (0x80 >> (x & 7)), at); // 1 = transparent
      }
    }
  }
  return out;
}
