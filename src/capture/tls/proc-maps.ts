// The files a process has mapped executable, from /proc/<pid>/maps, one entry
// per file (dev:inode): where TLS libraries are found.

export interface MappedFile {
  /** "major:minor inode" as maps gives them: the key the kernel's uprobes go by. */
  key: string;
  /** Path inside the process's mount namespace. */
  path: string;
  /** The file was replaced or removed on disk after it was mapped. */
  deleted: boolean;
}

/** Parses /proc/<pid>/maps text: file-backed executable mappings, deduplicated. */
export function executableMappings(maps: string): MappedFile[] {
  const out = new Map<string, MappedFile>();
  for (const line of maps.split('\n')) {
    // address perms offset dev inode path
    const m = /^[0-9a-f]+-[0-9a-f]+ (\S{4}) [0-9a-f]+ ([0-9a-f]+:[0-9a-f]+) (\d+)\s+(\/.*)$/.exec(line);
    if (!m || m[1]![2] !== 'x' || m[3] === '0') continue;
    const key = `${m[2]} ${m[3]}`;
    if (out.has(key)) continue;
    let path = m[4]!;
    const deleted = path.endsWith(' (deleted)');
    if (deleted) path = path.slice(0, -' (deleted)'.length);
    out.set(key, { key, path, deleted });
  }
  return [...out.values()];
}
