import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultRoute, RouteMapper } from '../../src/enrich/routes';
import { toJson } from '../../src/export/console';
import { spanAttributes } from '../../src/export/spans';
import { targetParts, targetPath, targetQuery } from '../../src/transactions/request-target';
import { serverTx } from '../support/transactions';

// [target, path, query]
const CASES: Array<[string, string, string | undefined]> = [
  // origin-form
  ['/users/42', '/users/42', undefined],
  ['/search?q=1&page=2', '/search', 'q=1&page=2'],
  ['/p?', '/p', ''],
  ['/users/42#top', '/users/42', undefined],
  ['/search?q=a/b#c?d', '/search', 'q=a/b'],
  ['/a#f?x=1', '/a', undefined],
  ['?only=query', '/', 'only=query'],
  ['#frag', '/', undefined],
  ['', '/', undefined],
  ['/files/%2F123', '/files/%2F123', undefined],
  ['//double//slash/', '//double//slash/', undefined],
  // absolute-form
  ['http://h:1/p?q=1', '/p', 'q=1'],
  ['https://h/a/b', '/a/b', undefined],
  ['http://h', '/', undefined],
  ['http://h:8080', '/', undefined],
  ['http://h?x=1', '/', 'x=1'],
  ['http://h?x=/y', '/', 'x=/y'],
  ['http://example.com#/users/1', '/', undefined],
  ['http://h/a#frag', '/a', undefined],
  ['http://h/a?q=1#frag', '/a', 'q=1'],
  ['HTTP://h/a/b/', '/a/b/', undefined],
  ['Https://h/x', '/x', undefined],
  ['ws://h/socket?t=1', '/socket', 't=1'],
  ['svn+ssh.v2-x://h/r', '/r', undefined],
  ['http://user@h:1/p', '/p', undefined],
  // not a scheme: the whole target up to "?" or "#"
  ['1http://h/p', '1http://h/p', undefined],
  ['a b://h/p', 'a b://h/p', undefined],
  ['x?next=http://h/p', 'x', 'next=http://h/p'],
  ['://h/p', '://h/p', undefined],
  // authority-form (CONNECT) and asterisk-form (OPTIONS)
  ['example.com:443', 'example.com:443', undefined],
  ['*', '*', undefined],
];

describe('request targets: one reading of path and query', () => {
  for (const [target, path, query] of CASES) {
    it(`${JSON.stringify(target)} -> ${path} ${JSON.stringify(query)}`, () => {
      assert.equal(targetPath(target), path);
      assert.equal(targetQuery(target), query);
      assert.deepEqual(targetParts(target), { path, query });
    });
  }

  it('http.route, url.path, url.query and the console agree on every target', () => {
    const routes = new RouteMapper({ patterns: [], ignore: [], maxRoutesPerService: 1000 });
    for (const [target, path, query] of CASES) {
      if (target === '') continue; // an unknown target has no url.path (below)
      const tx = { ...serverTx, target };
      // The route is the id heuristic over the very path url.path carries.
      tx.route = routes.route('svc', target);
      assert.equal(tx.route, path === '*' ? '*' : defaultRoute(path), `route of ${target}`);
      const attrs = spanAttributes(tx, false);
      assert.equal(attrs['url.path'], path, `url.path of ${target}`);
      assert.equal(attrs['url.query'], query, `url.query of ${target}`);
      assert.equal(attrs['http.route'], tx.route, `http.route of ${target}`);
      const json = toJson(tx, false);
      assert.equal(json.path, path, `console path of ${target}`);
      assert.equal(json.query, query, `console query of ${target}`);
    }
  });

  it('an unknown target has no url.path and an empty console path', () => {
    const tx = { ...serverTx, target: '' };
    const attrs = spanAttributes(tx, false);
    assert.equal('url.path' in attrs, false);
    assert.equal('url.query' in attrs, false);
    assert.equal(toJson(tx, false).path, '');
    assert.equal(toJson(tx, false).query, undefined);
  });
});
