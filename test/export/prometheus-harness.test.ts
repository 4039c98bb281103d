// The Prometheus harness against a hand-written exposition: the real server
// scrapes a node:http target, and the values read back through its API are exact.
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { test, type TestContext } from 'node:test';
import { PrometheusServer, prometheusBinary } from '../support/prometheus';
import { need } from '../support/requirements';

const needPrometheus = (t: TestContext): boolean =>
  need(t, 'needs Prometheus', prometheusBinary() ? undefined : '/usr/bin/prometheus missing: install the Debian package "prometheus" (SIDELIGHT_SETUP_PEERS=1 bash scripts/setup.sh)');

function exposition(counts: Record<string, number>): string {
  return [
    '# HELP sl_harness_requests_total Requests counted by the harness test.',
    '# TYPE sl_harness_requests_total counter',
    ...Object.entries(counts).map(([route, n]) => `sl_harness_requests_total{route="${route}"} ${n}`),
    '',
  ].join('\n');
}

test('Prometheus harness scrapes a target and answers queries', async (t) => {
  if (!needPrometheus(t)) return;

  let counts: Record<string, number> = { '/a': 3, '/b': 5 };
  const target = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(exposition(counts));
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => target.close(() => resolve())));
  const port = (target.address() as net.AddressInfo).port;

  const prom = await PrometheusServer.start({ targets: [`127.0.0.1:${port}`], scrapeIntervalMs: 1000 });
  t.after(() => prom.stop());
  assert.match(prom.url, /^http:\/\/127\.0\.0\.1:\d+$/);

  const byRoute = async () =>
    (await prom.query('sum by (route) (sl_harness_requests_total)'))
      .map((s) => ({ route: s.metric.route, value: s.value }))
      .sort((x, y) => x.route!.localeCompare(y.route!));

  await t.test('first scrape has the exposed values', async () => {
    await prom.waitForScrapes(1, 15_000);
    assert.deepEqual(await byRoute(), [
      { route: '/a', value: 3 },
      { route: '/b', value: 5 },
    ]);
  });

  await t.test('later scrapes see the changed values', async () => {
    counts = { '/a': 10, '/b': 12 };
    await prom.waitForScrapes(1, 15_000);
    assert.deepEqual(await byRoute(), [
      { route: '/a', value: 10 },
      { route: '/b', value: 12 },
    ]);
  });

  await t.test('the target is up', async () => {
    const targets = await prom.targetsHealth();
    assert.deepEqual(targets, [{ scrapeUrl: `http://127.0.0.1:${port}/metrics`, health: 'up', lastError: '' }]);
  });

  await t.test('invalid PromQL rejects with the API error', async () => {
    await assert.rejects(prom.query('sum by (route) ('), (err: Error) => {
      assert.match(err.message, /bad_data/);
      assert.match(err.message, /parse error/);
      return true;
    });
  });
});
