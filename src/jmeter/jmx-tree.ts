/**
 * A JMeter test plan (.jmx) read into its element tree: each element with its properties and the
 * children its sibling `<hashTree>` holds, as JMeter scopes them. Parsing is fast-xml-parser's.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { UsageError } from '../errors.js';

/** A property of an element: `stringProp`, `boolProp`, … (text), `elementProp` or `collectionProp` (nested). */
export interface JmxProp {
  /** The XML tag: stringProp, boolProp, intProp, longProp, elementProp, collectionProp, … */
  kind: string;
  name: string;
  /** The text of a scalar property ('' for nested ones). */
  text: string;
  /** Nested properties of an elementProp or collectionProp, in order. */
  items: JmxProp[];
}

/** A test element and, from its sibling hashTree, its children. */
export interface JmxElement {
  /** The XML tag: the element's class, e.g. ThreadGroup or com.blazemeter.jmeter.threads.arrivals.ArrivalsThreadGroup. */
  tag: string;
  testclass: string;
  testname: string;
  enabled: boolean;
  props: JmxProp[];
  children: JmxElement[];
}

/** The plan: the root's attributes and its top-level elements (the TestPlan). */
export interface JmxPlan {
  /** `jmeterTestPlan version` (the file format). */
  version: string | null;
  /** `jmeterTestPlan jmeter` (the JMeter that saved it). */
  jmeter: string | null;
  elements: JmxElement[];
}

type Node = Record<string, unknown> & { ':@'?: Record<string, string> };

const PARSER = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  // A test plan has no reason for a DOCTYPE; do not expand entities it might declare.
  processEntities: true,
});

const tagOf = (n: Node): string => Object.keys(n).find((k) => k !== ':@')!;
const childrenOf = (n: Node): Node[] => (n[tagOf(n)] as Node[] | undefined) ?? [];
const textOf = (n: Node): string =>
  childrenOf(n)
    .map((c) => (typeof c['#text'] === 'string' ? c['#text'] : ''))
    .join('');

function readProp(n: Node): JmxProp {
  const kind = tagOf(n);
  const nested = kind === 'elementProp' || kind === 'collectionProp';
  return {
    kind,
    name: n[':@']?.name ?? '',
    text: nested ? '' : textOf(n),
    items: nested ? childrenOf(n).filter((c) => !('#text' in c)).map(readProp) : [],
  };
}

/** Elements of a hashTree's content, each paired with the hashTree that follows it. */
function readTree(nodes: Node[]): JmxElement[] {
  const out: JmxElement[] = [];
  const tagged = nodes.filter((c) => !('#text' in c) && !('#comment' in c));
  for (let i = 0; i < tagged.length; i++) {
    const n = tagged[i]!;
    const tag = tagOf(n);
    if (tag === 'hashTree') continue;
    const next = tagged[i + 1];
    const sub = next && tagOf(next) === 'hashTree' ? childrenOf(next) : [];
    const attrs = n[':@'] ?? {};
    out.push({
      tag,
      testclass: attrs.testclass ?? tag,
      testname: attrs.testname ?? tag,
      enabled: attrs.enabled !== 'false',
      props: childrenOf(n).filter((c) => !('#text' in c) && !('#comment' in c)).map(readProp),
      children: readTree(sub),
    });
  }
  return out;
}

/**
 * Parses a .jmx file's text. Not well-formed XML, or not a `<jmeterTestPlan>`: a UsageError
 * `<file>:<line>: …` (exit 2).
 */
export function parseJmx(xml: string, file: string): JmxPlan {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new UsageError(`${file}:${valid.err.line}: not a JMeter test plan: not well-formed XML (${valid.err.msg})`);
  }
  const doc = PARSER.parse(xml) as Node[];
  const root = doc.find((n) => !('#text' in n) && !('#comment' in n) && !tagOf(n).startsWith('?'));
  if (!root || tagOf(root) !== 'jmeterTestPlan') {
    const seen = root ? `<${tagOf(root)}>` : 'no element';
    throw new UsageError(`${file}: not a JMeter test plan (expected a <jmeterTestPlan> root element, found ${seen})`);
  }
  const top = childrenOf(root).find((c) => !('#text' in c) && tagOf(c) === 'hashTree');
  const attrs = root[':@'] ?? {};
  return { version: attrs.version ?? null, jmeter: attrs.jmeter ?? null, elements: top ? readTree(childrenOf(top)) : [] };
}

/** The text of an element's (or elementProp's) property `name`, or undefined. */
export function prop(on: { props?: JmxProp[]; items?: JmxProp[] }, name: string): JmxProp | undefined {
  return (on.props ?? on.items ?? []).find((p) => p.name === name);
}

/** The text of scalar property `name`, or undefined when absent. */
export function text(on: { props?: JmxProp[]; items?: JmxProp[] }, name: string): string | undefined {
  const p = prop(on, name);
  return p && p.kind !== 'elementProp' && p.kind !== 'collectionProp' ? p.text : undefined;
}
