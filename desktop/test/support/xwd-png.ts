/**
 * An X window dump (xwd, the X server's own screen capture) as a PNG, for the real-window test: xwd ships
 * with the X tools, an image converter does not. Reads the ZPixmap, 24/32-bit TrueColor dumps Xvfb makes
 * (X11 XWDFile.h, version 7) and writes an RGB PNG (RFC 2083: IHDR, one zlib IDAT of unfiltered rows, IEND).
 */
import { crc32, deflateSync } from 'node:zlib';

const XWD_VERSION = 7;
const ZPIXMAP = 2;

export interface Image {
  width: number;
  height: number;
  /** RGB, 3 bytes a pixel, rows top to bottom. */
  rgb: Buffer;
}

export function readXwd(dump: Buffer): Image {
  const field = (i: number) => dump.readUInt32BE(i * 4);
  const [headerSize, version, format] = [field(0), field(1), field(2)];
  if (version !== XWD_VERSION || format !== ZPIXMAP) throw new Error(`xwd: version ${String(version)} format ${String(format)} is not a version 7 ZPixmap dump`);
  const [width, height, byteOrder, bitsPerPixel, bytesPerLine] = [field(4), field(5), field(7), field(11), field(12)];
  const [redMask, greenMask, blueMask, colours] = [field(14), field(15), field(16), field(19)];
  if (bitsPerPixel !== 32 && bitsPerPixel !== 24) throw new Error(`xwd: ${String(bitsPerPixel)} bits per pixel is not TrueColor 24/32`);
  const shift = (mask: number) => Math.log2(mask & -mask);
  const [rs, gs, bs] = [shift(redMask), shift(greenMask), shift(blueMask)];
  const pixels = headerSize + colours * 12;
  const bytes = bitsPerPixel / 8;
  const rgb = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = pixels + y * bytesPerLine + x * bytes;
      const value = bytes === 4 ? (byteOrder === 0 ? dump.readUInt32LE(at) : dump.readUInt32BE(at)) : byteOrder === 0 ? dump.readUIntLE(at, 3) : dump.readUIntBE(at, 3);
      const o = (y * width + x) * 3;
      rgb[o] = (value & redMask) >>> rs;
      rgb[o + 1] = (value & greenMask) >>> gs;
      rgb[o + 2] = (value & blueMask) >>> bs;
    }
  }
  return { width, height, rgb };
}

function chunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

export function writePng(image: Image): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(image.width, 0);
  header.writeUInt32BE(image.height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit, truecolour RGB, deflate, no filter method beyond 0, no interlace
  const stride = image.width * 3;
  const rows = Buffer.alloc((stride + 1) * image.height);
  for (let y = 0; y < image.height; y++) image.rgb.copy(rows, y * (stride + 1) + 1, y * stride, (y + 1) * stride);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}
