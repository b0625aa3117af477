// Building elements without parsing HTML. Every value, from the API or the URL, becomes a text node
// or an attribute value: nothing in the viewer parses a string as HTML (the page's CSP enforces it
// with Trusted Types), so `<img src=x onerror=alert(1)>` in a description shows as those characters.

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(element, attributes, children) {
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on')) {
      element.addEventListener(name.slice(2), value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** An HTML element: `h('td', { class: 'x' }, 'text', otherNode)`. */
export function h(tag, attributes, ...children) {
  return build(document.createElement(tag), attributes, children);
}

/** An SVG element, likewise. */
export function svg(tag, attributes, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attributes, children);
}

/** Replaces `element`'s children. */
export function replace(element, ...children) {
  element.replaceChildren();
  return build(element, null, children);
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const shortDateTime = new Intl.DateTimeFormat(undefined, {
  month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
});
const numbers = new Intl.NumberFormat();

/** The viewer's time zone, for labels. */
export const TIME_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';

/** `text` (RFC 3339) in the viewer's zone, or the text itself when it does not parse. */
export function localTime(text) {
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? String(text) : dateTime.format(ms);
}

/** A chart label: the month, day and time in the viewer's zone. */
export function shortTime(ms) {
  return shortDateTime.format(ms);
}

export function count(n) {
  return numbers.format(n);
}

/** `<time>` showing `text` in the local zone, with its UTC form on hover. */
export function timeElement(text) {
  return h('time', { datetime: text, title: `${text} (UTC)` }, localTime(text));
}
