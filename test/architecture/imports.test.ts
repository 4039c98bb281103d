// The pipeline's direction, checked on the source: no stage imports from a
// stage after it, a protocol imports nothing from another protocol's
// folder, and no source file grows back into a knot.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

const SRC = path.join(__dirname, '..', '..', '..', 'src');

/**
 * The stages' folders as layers, lowest first: a module imports only from its
 * own folder or a lower layer. The order is the data flow of src/pipeline.ts
 * except that the protocols sit below conn, which opens and feeds their
 * sessions through the protocol interface; selection and the protocols share
 * a layer and import nothing from each other. config, log and the top-level
 * files compose the stages and may import any.
 */
const LAYERS = [['capture'], ['select', 'protocols'], ['conn'], ['transactions'], ['enrich'], ['export']];
const STAGES = LAYERS.flat();
/** Largest source file, in lines (the HTTP/1 parser was 1,170 before it was split by job). */
const MAX_LINES = 700;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Relative imports and re-exports of a file, resolved to paths under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.{1,2}\/[^']+)'/gm)) out.push(path.relative(SRC, path.resolve(path.dirname(file), m[1])));
  // require('./otlp') and import('./otlp') types
  for (const m of text.matchAll(/(?:require|import)\('(\.{1,2}\/[^']+)'\)/g)) out.push(path.relative(SRC, path.resolve(path.dirname(file), m[1])));
  return out;
}

const folderOf = (rel: string): string => rel.split(path.sep)[0];
const layerOf = (rel: string): number => LAYERS.findIndex((l) => l.includes(folderOf(rel)));

/** protocols/<name>/...: the protocol's folder name, if any. */
function protocolOf(rel: string): string | undefined {
  const parts = rel.split(path.sep);
  return parts[0] === 'protocols' && parts.length > 2 ? parts[1] : undefined;
}

describe('architecture', () => {
  const files = sources(SRC).map((f) => ({ file: f, rel: path.relative(SRC, f) }));

  it('finds the source and every stage folder', () => {
    for (const s of STAGES) assert.ok(files.some((f) => folderOf(f.rel) === s), s);
    assert.ok(files.length > 50);
  });

  it('no stage imports from a later one (or from another folder of its layer)', () => {
    const backward: string[] = [];
    for (const { file, rel } of files) {
      const from = layerOf(rel);
      if (from < 0) continue;
      for (const target of importsOf(file)) {
        const to = layerOf(target);
        if (to > from || (to === from && folderOf(target) !== folderOf(rel))) backward.push(`${rel} -> ${target}`);
      }
    }
    assert.deepEqual(backward, []);
  });

  it('a protocol imports nothing from another protocol’s folder', () => {
    const crossing: string[] = [];
    for (const { file, rel } of files) {
      const mine = protocolOf(rel);
      if (mine === undefined) continue;
      for (const target of importsOf(file)) {
        const theirs = protocolOf(target);
        if (theirs !== undefined && theirs !== mine) crossing.push(`${rel} -> ${target}`);
      }
    }
    assert.deepEqual(crossing, []);
  });

  it('reads the imports it checks', () => {
    const streams = files.find((f) => f.rel === path.join('conn', 'streams.ts'))!;
    assert.ok(importsOf(streams.file).includes(path.join('protocols', 'registry')));
    const exporters = files.find((f) => f.rel === path.join('export', 'exporters.ts'))!;
    assert.ok(importsOf(exporters.file).includes(path.join('export', 'otlp')), 'a require() is read too');
    assert.ok(layerOf(path.join('export', 'exporters')) > layerOf(path.join('conn', 'streams')));
  });

  it(`no source file is over ${MAX_LINES} lines`, () => {
    const big = files.map((f) => ({ rel: f.rel, lines: readFileSync(f.file, 'utf8').split('\n').length })).filter((f) => f.lines > MAX_LINES);
    assert.deepEqual(big, []);
  });
});
