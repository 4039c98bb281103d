import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { containerOfCgroupFile, containerOfPath, containerOfPid, type ContainerRef } from '../../src/enrich/cgroup';

const FIXTURES = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'cgroup');
const ID = '4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b';
const POD_UID = '3c5e7a9b-1f2d-4e6a-9b8c-0d1e2f3a4b5c';

function fixture(name: string): string {
  return readFileSync(path.join(FIXTURES, `${name}.txt`), 'latin1');
}

describe('containerOfCgroupFile on real-format /proc/<pid>/cgroup files', () => {
  const cases: [string, ContainerRef | undefined][] = [
    ['v2-containerd-systemd', { id: ID, runtime: 'containerd', podUid: POD_UID }],
    ['v2-crio-systemd', { id: ID, runtime: 'cri-o', podUid: POD_UID }],
    ['v2-kind-nested', { id: ID, runtime: 'containerd', podUid: POD_UID }],
    ['v1-containerd-cgroupfs', { id: ID, runtime: 'unknown', podUid: POD_UID }],
    ['v1-dockershim-partial', { id: ID, runtime: 'unknown', podUid: POD_UID }],
    ['v1-docker-cgroupfs', { id: ID, runtime: 'docker', podUid: undefined }],
    ['v2-docker-systemd', { id: ID, runtime: 'docker', podUid: undefined }],
    ['v2-podman', { id: ID, runtime: 'podman', podUid: undefined }],
    // Not a container: CRI-O's monitor, systemd units, a namespace's root, a 32-hex group name.
    ['v2-crio-conmon', undefined],
    ['v2-systemd-service', undefined],
    ['v2-user-session', undefined],
    ['v2-namespace-root', undefined],
    ['v1-host-32hex', undefined],
  ];
  for (const [name, expected] of cases) {
    it(name, () => assert.deepEqual(containerOfCgroupFile(fixture(name)), expected));
  }
});

describe('containerOfPath', () => {
  it('takes the innermost id when ids nest (a container inside a container)', () => {
    const inner = 'a'.repeat(64);
    assert.deepEqual(containerOfPath(`/docker/${ID}/docker/${inner}`), { id: inner, runtime: 'docker', podUid: undefined });
  });
  it('refuses ids of the wrong length or case', () => {
    assert.equal(containerOfPath(`/docker/${ID.slice(1)}`), undefined);
    assert.equal(containerOfPath(`/docker/${ID.toUpperCase()}`), undefined);
    assert.equal(containerOfPath(`/system.slice/docker-${ID}x.scope`), undefined);
  });
});

describe('containerOfPid', () => {
  it('reads /proc/<pid>/cgroup under the given root; a missing process has no container', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'sl-proc-'));
    try {
      mkdirSync(path.join(root, '1234'));
      writeFileSync(path.join(root, '1234', 'cgroup'), fixture('v2-crio-systemd'));
      assert.deepEqual(containerOfPid(1234, root), { id: ID, runtime: 'cri-o', podUid: POD_UID });
      assert.equal(containerOfPid(999_999, root), undefined);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
