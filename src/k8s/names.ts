/**
 * Checks of the values a `portstorm k8s` invocation puts into the manifests: image references,
 * namespace and object names, resource quantities. Each returns null when fine, else why not.
 */

// The grammar of distribution/reference (the one docker and containerd parse image names with).
const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|-+)';
const COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_PART = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_PART}(?:\\.${DOMAIN_PART})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const IMAGE_RE = new RegExp(`^(?:${DOMAIN}/)?${COMPONENT}(?:/${COMPONENT})*(?::${TAG})?(?:@${DIGEST})?$`);

/** Why `ref` is not an image reference (`registry:5000/team/portstorm:0.1.0`, `…@sha256:…`), or null. */
export function imageProblem(ref: string): string | null {
  if (ref.length === 0) return 'expected an image reference like registry.example/portstorm:0.1.0, got nothing';
  if (ref.length > 255 + 128 + 80) return 'too long for an image reference';
  return IMAGE_RE.test(ref) ? null : 'not an image reference (lower-case name components, an optional registry, :tag and @digest), e.g. registry.example/portstorm:0.1.0';
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Why `name` is not a DNS-1123 label of at most `max` characters (namespaces, our Job name), or null. */
export function labelProblem(name: string, max = 63): string | null {
  if (name.length === 0) return 'expected a name, got nothing';
  if (name.length > max) return `at most ${max} characters, got ${name.length}`;
  return DNS1123_LABEL.test(name) ? null : 'lower-case letters, digits and "-", starting and ending with a letter or digit';
}

/**
 * A DNS-1123 label made from `text` (a scenario name): lower case, runs of other characters as
 * one "-", at most `max` characters, never empty.
 */
export function toLabel(text: string, max: number): string {
  const slug = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, max)
    .replace(/^-+|-+$/g, '');
  return slug === '' ? 'scenario' : slug;
}

// Kubernetes' resource.Quantity: a decimal with an optional binary (Ki…Ei) or decimal (m, k, M…E) suffix, or an exponent.
const QUANTITY_RE = /^(?:\d+(?:\.\d*)?|\.\d+)(?:Ki|Mi|Gi|Ti|Pi|Ei|[mkMGTPE]|[eE][+-]?\d+)?$/;

/** Why `q` is not a Kubernetes resource quantity (`500m`, `2`, `512Mi`), or null. */
export function quantityProblem(q: string): string | null {
  return QUANTITY_RE.test(q) ? null : 'expected a Kubernetes quantity like 500m, 2, 512Mi or 1Gi';
}
