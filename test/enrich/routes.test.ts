import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { OVERFLOW_ROUTE, RouteMapper, defaultRoute } from '../../src/enrich/routes';

const mapper = (o: Partial<{ patterns: string[]; ignore: string[]; maxRoutesPerService: number }> = {}) =>
  new RouteMapper({ patterns: [], ignore: [], maxRoutesPerService: 1000, ...o });

describe('route: heuristic', () => {
  const cases: Array<[string, string]> = [
    // digits
    ['/users/42', '/users/{id}'],
    ['/users/42/orders/7', '/users/{id}/orders/{id}'],
    ['/0', '/{id}'],
    // uuids, any case
    ['/items/3f2504e0-4f89-11d3-9a0c-0305e82c3301', '/items/{uuid}'],
    ['/items/3F2504E0-4F89-11D3-9A0C-0305E82C3301/x', '/items/{uuid}/x'],
    // hex with a digit
    ['/commit/9fceb02d0ae598e95dc970b74767f19372d61af8', '/commit/{hex}'],
    ['/obj/507f1f77bcf86cd799439011', '/obj/{hex}'],
    ['/h/cafe1234', '/h/{hex}'],
    ['/h/abc123def456', '/h/{hex}'],
    // tokens
    ['/t/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-_x', '/t/{token}'],
    ['/reset/Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==', '/reset/{token}'],
    ['/p/user123abc456xyz', '/p/{token}'],
    ['/p/product12345', '/p/{token}'],
    // dates
    ['/reports/2024-01-31', '/reports/{date}'],
    ['/reports/2024-01-31T10:00:00Z/csv', '/reports/{date}/csv'],
    // extensions
    ['/files/123.json', '/files/{id}.json'],
    ['/img/3f2504e0-4f89-11d3-9a0c-0305e82c3301.png', '/img/{uuid}.png'],
    ['/reports/2024-01-31.csv', '/reports/{date}.csv'],
    // shape of the path is preserved
    ['/', '/'],
    ['/users/42/', '/users/{id}/'],
    ['//42//x', '//{id}//x'],
    ['/a/b/c', '/a/b/c'],
    // literal words stay
    ['/api/v1/users', '/api/v1/users'],
    ['/v2beta/index.html', '/v2beta/index.html'],
    ['/static/app.min.js', '/static/app.min.js'],
    ['/h/deadbeef', '/h/deadbeef'],
    ['/api/order-management-service/health', '/api/order-management-service/health'],
    ['/api/GetUserProfileSettingsForRegion', '/api/GetUserProfileSettingsForRegion'],
    ['/v1.2/oauth2/s3', '/v1.2/oauth2/s3'],
    ['/%E4%BD%A0%E5%A5%BD%E4%B8%96%E7%95%8C', '/%E4%BD%A0%E5%A5%BD%E4%B8%96%E7%95%8C'],
    ['/x/12345678901', '/x/{id}'],
  ];
  for (const [path, want] of cases) {
    it(`${path} -> ${want}`, () => {
      assert.equal(defaultRoute(path), want);
      assert.equal(mapper().route('svc', path), want);
    });
  }

  const targets: Array<[string, string]> = [
    ['/users/42?expand=orders&id=7', '/users/{id}'],
    ['/users/42#top', '/users/{id}'],
    ['/search?q=a/b#c?d', '/search'],
    ['?only=query', '/'],
    ['', '/'],
    ['http://example.com:8080/users/42?x=1', '/users/{id}'],
    ['https://example.com', '/'],
    ['http://example.com?q=/users/1', '/'],
    ['http://example.com#/users/1', '/'],
    ['HTTP://h/a/b/', '/a/b/'],
    ['*', '*'],
    ['/files/%2F123', '/files/%2F123'],
  ];
  for (const [target, want] of targets) {
    it(`target ${JSON.stringify(target)} -> ${want}`, () => {
      assert.equal(mapper().route('svc', target), want);
    });
  }

  it('returns the input string itself when nothing is replaced', () => {
    const p = '/api/v1/users';
    assert.equal(defaultRoute(p), p);
  });
});

describe('route: user patterns', () => {
  it('{name} matches one non-empty segment and returns the pattern text', () => {
    const m = mapper({ patterns: ['/users/{id}/orders/{orderId}', '/users/{name}'] });
    assert.equal(m.route('s', '/users/42/orders/abc?x=1'), '/users/{id}/orders/{orderId}');
    assert.equal(m.route('s', '/users/alice'), '/users/{name}');
    // empty segment or extra segments do not match: falls through to the heuristic
    assert.equal(m.route('s', '/users/'), '/users/');
    assert.equal(m.route('s', '/users/42/'), '/users/{id}/');
    assert.equal(m.route('s', '/users/42/orders/7/items'), '/users/{id}/orders/{id}/items');
  });

  it('trailing * matches one or more segments', () => {
    const m = mapper({ patterns: ['/static/*'] });
    assert.equal(m.route('s', '/static/app.js'), '/static/*');
    assert.equal(m.route('s', '/static/a/b/c.css'), '/static/*');
    assert.equal(m.route('s', '/static'), '/static');
    assert.equal(m.route('s', '/static/'), '/static/');
    assert.equal(m.route('s', '/staticx/1'), '/staticx/{id}');
  });

  it('first matching pattern wins', () => {
    const m = mapper({ patterns: ['/users/me', '/users/{id}', '/users/*'] });
    assert.equal(m.route('s', '/users/me'), '/users/me');
    assert.equal(m.route('s', '/users/7'), '/users/{id}');
    assert.equal(m.route('s', '/users/7/x'), '/users/*');
    const m2 = mapper({ patterns: ['/users/*', '/users/me'] });
    assert.equal(m2.route('s', '/users/me'), '/users/*');
  });

  it('literal segments compare exactly, and absolute-form targets match', () => {
    const m = mapper({ patterns: ['/Users/{id}', '/'] });
    assert.equal(m.route('s', 'http://h:1/Users/x'), '/Users/{id}');
    assert.equal(m.route('s', '/users/x'), '/users/x');
    assert.equal(m.route('s', 'http://h'), '/');
    assert.equal(m.route('s', '*'), '*');
  });

  it('pattern routes are not counted against the cap', () => {
    const m = mapper({ patterns: ['/users/{id}'], maxRoutesPerService: 1 });
    assert.equal(m.route('s', '/a'), '/a');
    assert.equal(m.route('s', '/users/1'), '/users/{id}');
    assert.equal(m.route('s', '/b'), OVERFLOW_ROUTE);
    assert.equal(m.overflowed, 1);
  });
});

describe('route: ignore', () => {
  it('ignored paths return undefined and are counted', () => {
    const m = mapper({ ignore: ['/healthz', '/metrics/*', '/ready/{probe}'], patterns: ['/healthz'] });
    assert.equal(m.route('s', '/healthz'), undefined);
    assert.equal(m.route('s', '/healthz?verbose=1'), undefined);
    assert.equal(m.route('s', 'http://h/metrics/prom'), undefined);
    assert.equal(m.route('s', '/ready/db'), undefined);
    assert.equal(m.ignored, 4);
    assert.equal(m.route('s', '/healthz/deep'), '/healthz/deep');
    assert.equal(m.route('s', '/metrics'), '/metrics');
    assert.equal(m.ignored, 4);
    assert.equal(m.overflowed, 0);
  });

  it('ignored paths do not use up the cap', () => {
    const m = mapper({ ignore: ['/healthz'], maxRoutesPerService: 1 });
    for (let i = 0; i < 5; i++) m.route('s', '/healthz');
    assert.equal(m.route('s', '/a'), '/a');
    assert.equal(m.overflowed, 0);
  });
});

describe('route: invalid patterns', () => {
  const bad = ['users/{id}', '', '/users/{}', '/a/*/b', '/a/b*', '/a*/b', '/users/{id', '/users/x{id}', '/a?x=1', '/a/{{id}}'];
  for (const p of bad) {
    it(`rejects ${JSON.stringify(p)}`, () => {
      for (const opts of [{ patterns: [p] }, { ignore: [p] }]) {
        assert.throws(
          () => mapper(opts),
          (e: unknown) => {
            assert.ok(e instanceof Error);
            assert.ok(e.message.includes(JSON.stringify(p)), e.message);
            assert.ok(!e.message.includes('\n'), 'one line');
            assert.match(e.message, /e\.g\.|remove/);
            return true;
          },
        );
      }
    });
  }

  it('accepts valid patterns', () => {
    assert.doesNotThrow(() => mapper({ patterns: ['/', '/*', '/a/{b}/c/*', '/a//b/', '/x/{x-y_z}'] }));
  });

  it('rejects a bad maxRoutesPerService', () => {
    assert.throws(() => mapper({ maxRoutesPerService: -1 }), /maxRoutesPerService/);
    assert.throws(() => mapper({ maxRoutesPerService: NaN }), /maxRoutesPerService/);
  });
});

describe('route: cardinality cap', () => {
  it('caps distinct routes per service and keeps returning known ones', () => {
    const m = mapper({ maxRoutesPerService: 3 });
    assert.equal(m.route('a', '/x'), '/x');
    assert.equal(m.route('a', '/y/1'), '/y/{id}');
    assert.equal(m.route('a', '/z'), '/z');
    assert.equal(m.route('a', '/w'), OVERFLOW_ROUTE);
    assert.equal(m.route('a', '/v'), OVERFLOW_ROUTE);
    assert.equal(m.route('a', '/w'), OVERFLOW_ROUTE);
    assert.equal(m.overflowed, 3);
    // known routes, including new raw paths that map to them, still come back
    assert.equal(m.route('a', '/x'), '/x');
    assert.equal(m.route('a', '/y/999?q'), '/y/{id}');
    assert.equal(m.route('a', '/z#f'), '/z');
    assert.equal(m.overflowed, 3);
  });

  it('services are independent', () => {
    const m = mapper({ maxRoutesPerService: 2 });
    assert.equal(m.route('a', '/1a'), '/1a');
    assert.equal(m.route('a', '/2a'), '/2a');
    assert.equal(m.route('a', '/3a'), OVERFLOW_ROUTE);
    assert.equal(m.route('b', '/3a'), '/3a');
    assert.equal(m.route('b', '/4a'), '/4a');
    assert.equal(m.route('b', '/1a'), OVERFLOW_ROUTE);
    assert.equal(m.route('a', '/1a'), '/1a');
    assert.equal(m.overflowed, 2);
  });

  it('zero routes per service overflows every heuristic route', () => {
    const m = mapper({ maxRoutesPerService: 0 });
    assert.equal(m.route('a', '/'), OVERFLOW_ROUTE);
    assert.equal(m.route('a', '/'), OVERFLOW_ROUTE);
    assert.equal(m.overflowed, 2);
  });

  it('caps the number of services tracked', () => {
    const m = mapper({ maxRoutesPerService: 1 });
    for (let i = 0; i < 10_000; i++) assert.equal(m.route(`svc${i}`, '/a'), '/a');
    assert.equal(m.overflowed, 0);
    assert.equal(m.route('one-too-many', '/a'), OVERFLOW_ROUTE);
    assert.equal(m.route('svc0', '/a'), '/a');
    assert.equal(m.overflowed, 1);
  });
});

describe('route: properties', () => {
  const segment = fc.oneof(
    fc.constantFrom('', 'api', 'v1', 'users', 'index.html', '123.json', '{id}', '{id}.json', '*', '%2F', '2024-01-31'),
    fc.stringMatching(/^[0-9]{1,12}$/),
    fc.stringMatching(/^[0-9a-fA-F]{6,40}$/),
    fc.stringMatching(/^[A-Za-z0-9_\-.~=+%]{1,40}$/),
    fc.uuid(),
    fc.string({ unit: 'grapheme-ascii', maxLength: 30 }),
  );
  const path = fc.array(segment, { maxLength: 8 }).map((s) => '/' + s.join('/'));
  const target = fc.oneof(
    path,
    fc.tuple(path, fc.string(), fc.string()).map(([p, q, f]) => `${p}?${q}#${f}`),
    fc.tuple(fc.constantFrom('http', 'https', 'h2c+x'), fc.string(), path).map(([s, h, p]) => `${s}://${h}${p}`),
    fc.string({ unit: 'grapheme-ascii' }),
    fc.string({ unit: 'binary' }),
    fc.constant('*'),
  );

  it('route() never throws and never yields "?" or "#"', () => {
    const m = mapper({ patterns: ['/users/{id}', '/static/*'], ignore: ['/healthz'], maxRoutesPerService: 50 });
    fc.assert(
      fc.property(fc.constantFrom('a', 'b', 'c'), target, (svc, t) => {
        const r = m.route(svc, t);
        if (r !== undefined) {
          assert.equal(typeof r, 'string');
          assert.ok(!r.includes('?') && !r.includes('#'), `${JSON.stringify(t)} -> ${r}`);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('defaultRoute is idempotent', () => {
    fc.assert(
      fc.property(fc.oneof(path, fc.string({ unit: 'binary' })), (p) => {
        const once = defaultRoute(p);
        assert.equal(defaultRoute(once), once);
      }),
      { numRuns: 2000 },
    );
  });

  it('defaultRoute keeps the segment count', () => {
    fc.assert(
      fc.property(path, (p) => {
        assert.equal(defaultRoute(p).split('/').length, p.split('/').length);
      }),
      { numRuns: 1000 },
    );
  });
});
