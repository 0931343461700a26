// The loaded config is shared by every module for the life of the process;
// freezing it all the way down makes an accidental write throw (ESM is strict
// mode) instead of changing behaviour for everyone.

/**
 * Freezes `value` and everything reachable from it, in place. Buffers and other
 * typed arrays are left as they are (the engine refuses to freeze them).
 *
 * @example
 * const config = deepFreeze({ routes: [{ id: 'orders' }] });
 * Object.isFrozen(config.routes[0]); // true
 */
export function deepFreeze<T>(value: T, seen: WeakSet<object> = new WeakSet()): T {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value) || seen.has(value)) return value;
  seen.add(value);
  for (const key of Reflect.ownKeys(value)) {
    deepFreeze((value as Record<PropertyKey, unknown>)[key], seen);
  }
  return Object.freeze(value);
}
