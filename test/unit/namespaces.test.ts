import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { netReach, ownRootlessContainer, parseNsPid, pidInOwnNamespace, uidMapCovers } from '../../src/platform/namespaces';
import { throughSocket } from '../../src/inspector/relay';
import { containerFromCgroupPath, containerLabel, parseCgroupFile, parseLimit, sanitize } from '../../src/platform/cgroup';

describe('namespaces', () => {
  it('reads NSpid outermost first; the last entry is the pid the process sees', () => {
    assert.deepEqual(parseNsPid('Name:\tnode\nNSpid:\t4242\t17\t1\nNSpgid:\t4242\n'), [4242, 17, 1]);
    assert.deepEqual(parseNsPid('NSpid:\t99\n'), [99]);
    assert.equal(parseNsPid('Name:\tnode\n'), null);
    assert.equal(parseNsPid('NSpid:\tx\n'), null);
    assert.equal(pidInOwnNamespace(process.pid), process.pid);
  });

  it('this process shares its own network namespace', () => {
    assert.deepEqual(netReach(process.pid), { kind: 'same' });
    // a pid in another network namespace is tested for real in test/integration/containers.test.ts
  });

  it("reads whether a user namespace's uid_map maps onto a uid (a user's own rootless container)", () => {
    assert.equal(uidMapCovers('         0      65534          1\n', 65534), true);
    assert.equal(uidMapCovers('         0      65534          1\n', 0), false);
    // podman rootless: the user's uid, then its subordinate range
    const podman = '         0       1000          1\n         1     100000      65536\n';
    assert.equal(uidMapCovers(podman, 1000), true);
    assert.equal(uidMapCovers(podman, 165535), true);
    assert.equal(uidMapCovers(podman, 165536), false);
    assert.equal(uidMapCovers('0 x 1\n\n', 0), false);
    // nodetop's own user namespace is no container of its own
    assert.equal(ownRootlessContainer(process.pid, process.getuid!()), false);
  });

  it("rewrites an inspector's WebSocket URL onto the relay's unix socket, and nothing else", () => {
    assert.equal(throughSocket('ws://127.0.0.1:9229/4fad2cb8-6751-4d07-adf1-66064327fa55', '/tmp/nodetop-relay-x/0-9229.sock'), 'ws+unix:///tmp/nodetop-relay-x/0-9229.sock:/4fad2cb8-6751-4d07-adf1-66064327fa55');
    assert.equal(throughSocket('ws://127.0.0.1:9229/a/b', '/tmp/s'), null);
    assert.equal(throughSocket('wss://127.0.0.1:9229/abc', '/tmp/s'), null);
    assert.equal(throughSocket('ws://127.0.0.1:9229/abc', '/tmp/a:b/s'), null);
  });
});

describe('cgroup paths', () => {
  const id = 'a'.repeat(40) + '0123456789abcdef01234567';
  it('names the container of each runtime from its cgroup path', () => {
    const cases: Array<[string, string | null]> = [
      [`/system.slice/docker-${id}.scope`, 'docker'],
      [`/docker/${id}`, 'docker'],
      [`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1b2c3d4e_0000_1111_2222_333344445555.slice/cri-containerd-${id}.scope`, 'containerd'],
      [`/kubepods.slice/kubepods-pod1b2c3d4e_0000_1111_2222_333344445555.slice/crio-${id}.scope`, 'cri-o'],
      [`/machine.slice/libpod-${id}.scope/container`, 'podman'],
      [`/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${id}.scope`, 'podman'],
      [`/kubepods/burstable/pod1b2c3d4e-0000-1111-2222-333344445555/${id}`, 'kubernetes'],
      [`/libpod_parent/libpod-${id}`, 'podman'],
      [`/machine.slice/libpod-conmon-${id}.scope`, null],
      ['/lxc.payload.web1', 'lxc'],
      ['/system.slice/my.service', null],
      ['/', null],
      [`/system.slice/docker-${id.slice(1)}.scope`, null],
    ];
    for (const [p, runtime] of cases) {
      const c = containerFromCgroupPath(p);
      assert.equal(c?.runtime ?? null, runtime, p);
      if (c && runtime !== 'lxc') assert.equal(c.id, id, p);
    }
    assert.equal(containerFromCgroupPath(cases[2]![0])?.podUid, '1b2c3d4e-0000-1111-2222-333344445555');
  });

  it('reads v1 and v2 lines; a limit of "max" or v1\'s near-2^63 is none', () => {
    const cg = parseCgroupFile(`12:memory:/docker/${id}\n4:cpu,cpuacct:/x\n0::/system.slice/docker-${id}.scope\n`);
    assert.equal(cg.unified, `/system.slice/docker-${id}.scope`);
    assert.equal(cg.v1.get('memory'), `/docker/${id}`);
    assert.equal(cg.v1.get('cpuacct'), '/x');
    assert.equal(parseLimit('max\n'), null);
    assert.equal(parseLimit('9223372036854771712\n'), null);
    assert.equal(parseLimit('104857600\n'), 104857600);
    assert.equal(parseLimit('-1'), null);
  });

  it('labels a row for the ps column, and a name from a file is printable ASCII only', () => {
    assert.equal(containerLabel({ runtime: 'docker', id, name: 'web', podUid: null }, false), `docker:${id.slice(0, 12)} web`);
    assert.equal(containerLabel(null, false), 'own netns');
    assert.equal(containerLabel(null, true), '-');
    assert.equal(sanitize('web\x1b[2J\n'), 'web?[2J?');
  });
});
