/** host.localAddresses: every address of every interface, to tell a missing source address from exhaustion. */
import assert from 'node:assert/strict';
import os from 'node:os';
import { describe, it } from 'node:test';
import { hostInfo, localAddresses } from '../../src/monitor/host.js';

const info = (address: string, family: 'IPv4' | 'IPv6', internal = false): os.NetworkInterfaceInfo =>
  (family === 'IPv4'
    ? { address, family, internal, netmask: '255.255.255.255', mac: '00:00:00:00:00:00', cidr: `${address}/32` }
    : { address, family, internal, netmask: 'ffff:ffff:ffff:ffff::', mac: '00:00:00:00:00:00', cidr: `${address}/64`, scopeid: 0 }) as os.NetworkInterfaceInfo;

describe('host.localAddresses', () => {
  it('lists every interface address, IPv4 and IPv6, loopback included, sorted and without duplicates', () => {
    const unavailable: Record<string, string> = {};
    const got = localAddresses(unavailable, () => ({
      lo: [info('127.0.0.1', 'IPv4', true), info('::1', 'IPv6', true), info('198.18.0.1', 'IPv4', true)],
      eth0: [info('10.0.0.5', 'IPv4'), info('fe80::1', 'IPv6')],
      eth1: [info('10.0.0.5', 'IPv4')],
      empty: undefined,
    }));
    assert.deepEqual(got, ['10.0.0.5', '127.0.0.1', '198.18.0.1', '::1', 'fe80::1']);
    assert.deepEqual(unavailable, {});
  });

  it('null with the reason when the interfaces cannot be listed', () => {
    const unavailable: Record<string, string> = {};
    const got = localAddresses(unavailable, () => {
      throw new Error('uv_interface_addresses returned Unknown system error 1');
    });
    assert.equal(got, null);
    assert.match(unavailable.localAddresses ?? '', /cannot list the network interfaces/);
  });

  it('hostInfo() carries this host’s addresses', () => {
    const h = hostInfo();
    const expected = new Set(Object.values(os.networkInterfaces()).flatMap((l) => (l ?? []).map((a) => a.address)));
    assert.deepEqual(new Set(h.localAddresses), expected);
    assert.ok(h.localAddresses!.includes('127.0.0.1'));
  });
});
