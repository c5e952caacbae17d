/**
 * An HTTPSamplerProxy, merged with the HTTP Request Defaults and Header Managers in its scope, as a
 * portstorm target, request, connection policy and timeouts (scenario input form).
 */
import type { NoteBook } from './jmx-notes.js';
import { prop, text, type JmxElement, type JmxProp } from './jmx-tree.js';

/** The request side of a scenario, as written in a scenario file. */
export interface ImportedRequest {
  target: string;
  request: { method: string; path: string; headers: Record<string, string>; body?: string };
  connection: { reuse: boolean; close?: 'server' };
  timeouts: { connect?: string; request?: string };
}

const FIELDS = ['domain', 'port', 'protocol', 'path', 'method', 'connect_timeout', 'response_timeout'] as const;

/** A sampler field, else the closest defaults' (config elements given innermost first). */
function field(sampler: JmxElement, defaults: JmxElement[], name: string): { raw: string; from: JmxElement } | null {
  for (const el of [sampler, ...defaults]) {
    const v = text(el, `HTTPSampler.${name}`);
    if (v !== undefined && v.trim() !== '') return { raw: v.trim(), from: el };
  }
  return null;
}

interface Arg {
  name: string;
  value: string;
  encode: boolean;
  equals: boolean;
}

function argsOf(el: JmxElement): Arg[] {
  const list = prop(prop(el, 'HTTPsampler.Arguments') ?? {}, 'Arguments.arguments')?.items ?? [];
  return list.map((a: JmxProp) => ({
    name: text(a, 'Argument.name') ?? a.name,
    value: text(a, 'Argument.value') ?? '',
    encode: text(a, 'HTTPArgument.always_encode') === 'true',
    equals: text(a, 'HTTPArgument.use_equals') !== 'false',
  }));
}

/** Header Managers' headers, outermost first so that an inner one (closer to the sampler) wins a name. */
function mergedHeaders(managers: JmxElement[], book: NoteBook): Map<string, [string, string]> {
  const out = new Map<string, [string, string]>();
  for (const m of [...managers].reverse()) {
    for (const h of prop(m, 'HeaderManager.headers')?.items ?? []) {
      const name = book.value(m, 'header name', text(h, 'Header.name'), (v) => v.replace(/\$\{|\}/g, '')).trim();
      if (name === '') continue;
      const value = book.value(m, `header ${name}`, text(h, 'Header.value'), (v) => v).trim();
      out.set(name.toLowerCase(), [name, value]);
    }
  }
  return out;
}

/** `${x}` left in a literal becomes `x`: a readable placeholder that is valid in a path or header. */
const placeholder = (v: string): string =>
  v.replace(/\$\{(__)?([\w.-]*)[^}]*\}/g, (_, fn: string | undefined, name: string) => name || (fn ? 'fn' : 'x'));

/**
 * Maps the sampler. `defaults` are the HTTP Request Defaults in scope and `headerManagers` the
 * Header Managers, both innermost first (the sampler's own children, then its controllers', …).
 */
export function importHttpSampler(sampler: JmxElement, defaults: JmxElement[], headerManagers: JmxElement[], book: NoteBook): ImportedRequest {
  const v = (name: (typeof FIELDS)[number], fallback: (partial: string) => string): string => {
    const f = field(sampler, defaults, name);
    return f ? book.value(f.from, `HTTPSampler.${name}`, f.raw, fallback) : '';
  };
  let protocol = v('protocol', () => 'http').toLowerCase() || 'http';
  // A server name that is not constant makes the scenario target the built-in server.
  let domain = v('domain', () => 'builtin');
  let port = v('port', () => '');
  let path = v('path', placeholder);
  const method = (v('method', () => 'GET') || 'GET').toUpperCase();

  const full = /^(https?):\/\//i.exec(path);
  if (full) {
    try {
      const u = new URL(path);
      protocol = u.protocol.slice(0, -1);
      domain = u.hostname.replace(/^\[|\]$/g, '');
      port = u.port;
      path = u.pathname + u.search;
    } catch {
      book.add(sampler, `HTTPSampler.path ${JSON.stringify(path)} is not a URL: written as /`);
      path = '/';
    }
  }
  if (protocol !== 'http' && protocol !== 'https') {
    book.add(sampler, `protocol ${protocol} is not HTTP: written as http`);
    protocol = 'http';
  }
  if (!/^\d+$/.test(port) && port !== '') {
    book.add(sampler, `HTTPSampler.port ${JSON.stringify(port)} is not a port: left out`);
    port = '';
  }
  if (!/^[A-Z]+$/.test(method)) book.add(sampler, `method ${JSON.stringify(method)} is not an HTTP method: written as GET`);
  let target: string;
  if (domain === 'builtin') target = 'builtin';
  else if (domain === '' || /[${}\s/]/.test(domain)) {
    book.add(sampler, domain === '' ? 'no server name (HTTPSampler.domain) in the sampler or its defaults: the scenario targets the built-in server' : `server name ${JSON.stringify(domain)}: the scenario targets the built-in server`);
    target = 'builtin';
  } else {
    const host = domain.includes(':') ? `[${domain}]` : domain;
    target = `${protocol}://${host}${port ? `:${port}` : ''}`;
  }
  if (!path.startsWith('/')) path = `/${path}`;

  const args = [...argsOf(sampler), ...defaults.flatMap(argsOf)].map((a) => ({
    ...a,
    name: book.value(sampler, `argument ${a.name}`, a.name, placeholder),
    value: book.value(sampler, a.name ? `argument ${a.name}` : 'body', a.value, placeholder),
  }));
  const raw = text(sampler, 'HTTPSampler.postBodyRaw') === 'true';
  const enc = (s: string, on: boolean): string => (on ? encodeURIComponent(s) : s);
  const form = args.map((a) => (a.equals || a.value !== '' ? `${enc(a.name, a.encode)}=${enc(a.value, a.encode)}` : enc(a.name, a.encode))).join('&');
  const sendsBody = ['POST', 'PUT', 'PATCH'].includes(method);
  let body: string | undefined;
  const headers = mergedHeaders(headerManagers, book);
  if (raw) body = args.map((a) => a.value).join('');
  else if (args.length > 0 && sendsBody) {
    body = form;
    if (!headers.has('content-type')) headers.set('content-type', ['Content-Type', 'application/x-www-form-urlencoded']);
  } else if (args.length > 0) path += (path.includes('?') ? '&' : '?') + form;
  if ((prop(sampler, 'HTTPsampler.Files')?.items.length ?? 0) > 0 || text(sampler, 'HTTPSampler.DO_MULTIPART_POST') === 'true') {
    book.add(sampler, 'file uploads and multipart bodies are not imported');
  }

  const connectionHeader = headers.get('connection')?.[1].trim().toLowerCase();
  headers.delete('connection');
  headers.delete('content-length');
  const keepAlive = text(sampler, 'HTTPSampler.use_keepalive') !== 'false' && connectionHeader !== 'close';

  if (text(sampler, 'HTTPSampler.follow_redirects') === 'true' || text(sampler, 'HTTPSampler.auto_redirects') === 'true') {
    book.add(sampler, 'follow_redirects: redirects are not followed (each request is one exchange)');
  }
  if (text(sampler, 'HTTPSampler.image_parser') === 'true') book.add(sampler, 'embedded resources are not fetched');

  const timeouts: ImportedRequest['timeouts'] = {};
  const connectMs = book.number(sampler, 'HTTPSampler.connect_timeout', v('connect_timeout', () => ''), 0);
  const responseMs = book.number(sampler, 'HTTPSampler.response_timeout', v('response_timeout', () => ''), 0);
  if (connectMs > 0) timeouts.connect = `${connectMs}ms`;
  if (responseMs > 0) timeouts.request = `${responseMs}ms`;

  return {
    target,
    request: {
      method: /^[A-Z]+$/.test(method) ? method : 'GET',
      path,
      headers: Object.fromEntries([...headers.values()]),
      ...(body !== undefined ? { body } : {}),
    },
    connection: keepAlive ? { reuse: true } : { reuse: false, close: 'server' },
    timeouts,
  };
}
