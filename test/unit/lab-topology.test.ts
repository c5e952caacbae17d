/** The plan of a chain or nat lab: addresses, links, the router's nft script, and what is refused. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../src/errors.js';
import { checkTopology, planTopology, topologyScenario } from '../../src/lab/topology.js';
import { parseScenario } from '../../src/scenario/load.js';
import { parseVariant } from '../../src/scenario/variant.js';

const scenario = (lab: unknown) =>
  parseScenario({ name: 't', load: [{ model: 'arrival-rate', rate: 10, duration: '1s' }], lab }, 'test');

describe('lab topology plan', () => {
  it('chain: service on 198.18.1.2 with 500 ports, the built-in proxy toward the backend, agents on management links', () => {
    const p = planTopology(scenario({ topology: 'chain', service: { upstreamReuse: true } }), '/tmp/x');
    assert.equal(p.targetOrigin, 'http://198.18.1.2:8080');
    const svc = p.hosts.find((h) => h.name === 'service')!;
    assert.equal(svc.sysctls['net.ipv4.ip_local_port_range'], '40000 40499');
    assert.deepEqual(svc.run.kind === 'proxy' && svc.run.args.slice(5, 9), ['--proxy-to', 'http://198.18.2.2:8080', '--upstream-reuse', '--upstream-pool-size']);
    assert.deepEqual(p.watch, { service: { url: 'http://198.19.1.2:9464', role: 'service' }, backend: { url: 'http://198.19.2.2:9464', role: 'backend' } });
    assert.deepEqual(p.links.filter((l) => l.kind === 'management').map((l) => l.subnet), ['198.19.1.0/24', '198.19.2.0/24']);
  });

  it('nat: one address is a plain snat, several are taken in turn; clients become bound source addresses', () => {
    const one = planTopology(scenario({ topology: 'nat' }), '/tmp/x');
    assert.match(one.hosts[0]!.nft!, /oifname "to-server" meta l4proto tcp snat to 198\.18\.2\.3:40000-40049/);
    const s = scenario({ topology: 'nat', nat: { addresses: 2, clients: 3, ports: '41000-41099', timeouts: { timeWait: 30 } } });
    const two = planTopology(s, '/tmp/x');
    assert.match(two.hosts[0]!.nft!, /snat ip to numgen inc mod 2 map \{ 0 : 198\.18\.2\.3 \. 41000-41099, 1 : 198\.18\.2\.4 \. 41000-41099 \}/);
    assert.deepEqual(two.hosts[0]!.conntrack, { 'net.netfilter.nf_conntrack_tcp_timeout_time_wait': 30 });
    assert.deepEqual(topologyScenario(s, two).connection.localAddresses, ['198.18.1.2', '198.18.1.3', '198.18.1.4']);
    assert.equal(two.targetOrigin, 'http://198.18.2.2:8080');
  });

  it('refuses host names and blocks of other topologies, and IPv6', () => {
    assert.throws(() => checkTopology('f', scenario({ topology: 'nat', hosts: { service: {} } })), (e: Error) => e instanceof UsageError && /lab\.hosts\.service: not a host of topology nat; its hosts are client, router, server/.test(e.message));
    assert.throws(() => checkTopology('f', scenario({ topology: 'nat', service: 'builtin-proxy' })), /lab\.service: only topology chain/);
    assert.throws(() => checkTopology('f', scenario({ topology: 'chain', nat: {} })), /lab\.nat: only topology nat/);
    assert.throws(() => checkTopology('f', scenario({ backend: { serve: 'x' } })), /lab\.backend: only topology chain/);
    assert.throws(() => checkTopology('f', scenario({ topology: 'chain', ipv6: true })), /IPv4 links only/);
    assert.throws(() => scenario({ topology: 'nat', nat: { ports: '80-90' } }), /1024-65535/);
    checkTopology('f', scenario({ topology: 'chain', hosts: { client: {}, backend: {} } }));
  });

  it('variants take service., nat., hosts., backend. as lab.', () => {
    assert.deepEqual(parseVariant('pool:service.upstreamReuse=true').sets, ['lab.service.upstreamReuse=true']);
    assert.deepEqual(parseVariant('two-ips:lab.nat.addresses=2,nat.ports=40000-40099').sets, ['lab.nat.addresses=2', 'lab.nat.ports=40000-40099']);
  });
});
