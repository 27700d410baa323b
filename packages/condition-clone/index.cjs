'use strict';

// json-rules-engine 7 deep-copies each rule's conditions into every rule result it makes, with
// `clone`, then writes each condition's result onto the copy. The copies must keep the
// prototype (they are evaluated as Conditions) and share no object with the rule. Rule sets
// are JSON-shaped: condition nodes, arrays, strings, numbers, booleans and null. So this copy
// walks only those, without what a general copy pays for on every object (fast-copy keeps a
// WeakMap against cycles, reads the constructor's source and looks for symbol keys), and
// refuses anything else rather than copying it wrongly: json-rules-engine then fails the run,
// and the triage fails safe.

const { getPrototypeOf, create, defineProperty, prototype: objectPrototype } = Object;
const hasOwn = Object.prototype.hasOwnProperty;
const toTag = Object.prototype.toString;
const { isArray } = Array;

function copy(value) {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'function' || typeof value === 'symbol') {
      throw new TypeError(`condition-clone: cannot copy a ${typeof value}`);
    }
    return value;
  }
  if (isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = copy(value[i]);
    return out;
  }
  const proto = getPrototypeOf(value);
  // A Date, Map, RegExp, typed array or boxed primitive has state a property copy would lose.
  if (proto !== objectPrototype && toTag.call(value) !== '[object Object]') {
    throw new TypeError(`condition-clone: cannot copy ${toTag.call(value)}`);
  }
  const out = proto === objectPrototype ? {} : create(proto);
  for (const key in value) {
    if (!hasOwn.call(value, key)) continue;
    if (key === '__proto__') {
      // An own property of that name, as JSON.parse makes it: an assignment would set the prototype.
      defineProperty(out, key, { value: copy(value[key]), writable: true, enumerable: true, configurable: true });
    } else {
      out[key] = copy(value[key]);
    }
  }
  return out;
}

module.exports = copy;
module.exports.default = copy;
