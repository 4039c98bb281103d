// Which of some names an ELF file exports (defines in .dynsym): tells a
// binary that links OpenSSL statically and exports it (node) from one that
// does not, without loading it. Reads only the section headers and the
// dynamic symbol and string tables.
import fs from 'node:fs';

const ELF_MAGIC = 0x464c457f;
const SHT_DYNSYM = 11;
const SHN_UNDEF = 0;

function readAt(fd: number, offset: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = fs.readSync(fd, buf, got, length - got, offset + got);
    if (n === 0) throw new Error('file cut short');
    got += n;
  }
  return buf;
}

/** The subset of `names` the file defines as dynamic symbols; empty for anything but a 64-bit little-endian ELF. */
export function exportedSymbols(file: string, names: readonly string[]): Set<string> {
  const found = new Set<string>();
  const fd = fs.openSync(file, 'r');
  try {
    const eh = readAt(fd, 0, 64);
    // 64-bit (class 2), little-endian (data 1): every target sidelight builds for.
    if (eh.readUInt32LE(0) !== ELF_MAGIC || eh[4] !== 2 || eh[5] !== 1) return found;
    const shoff = Number(eh.readBigUInt64LE(0x28));
    const shentsize = eh.readUInt16LE(0x3a);
    const shnum = eh.readUInt16LE(0x3c);
    if (shoff === 0 || shnum === 0 || shentsize < 64) return found;
    const sh = readAt(fd, shoff, shnum * shentsize);
    for (let i = 0; i < shnum; i++) {
      const o = i * shentsize;
      if (sh.readUInt32LE(o + 4) !== SHT_DYNSYM) continue;
      const symOff = Number(sh.readBigUInt64LE(o + 0x18));
      const symSize = Number(sh.readBigUInt64LE(o + 0x20));
      const link = sh.readUInt32LE(o + 0x28);
      const entsize = Number(sh.readBigUInt64LE(o + 0x38)) || 24;
      if (link >= shnum) return found;
      const so = link * shentsize;
      const strs = readAt(fd, Number(sh.readBigUInt64LE(so + 0x18)), Number(sh.readBigUInt64LE(so + 0x20)));
      const syms = readAt(fd, symOff, symSize);
      const wanted = new Map(names.map((n) => [n, Buffer.from(`${n}\0`, 'latin1')]));
      for (let s = 0; s + entsize <= syms.length && wanted.size > 0; s += entsize) {
        if (syms.readUInt16LE(s + 6) === SHN_UNDEF) continue;
        const nameAt = syms.readUInt32LE(s);
        for (const [name, z] of wanted) {
          if (strs[nameAt] === z[0] && strs.compare(z, 0, z.length, nameAt, nameAt + z.length) === 0) {
            found.add(name);
            wanted.delete(name);
            break;
          }
        }
      }
      return found;
    }
    return found;
  } finally {
    fs.closeSync(fd);
  }
}
