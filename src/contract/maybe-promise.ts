/**
 * Chaining on a value that may or may not be a promise, without going
 * asynchronous when it is not. (Not exported as `then`: a module with a `then`
 * export is a thenable, which `await import()` and module loaders would call.)
 */

/** Maps `v` (or what it resolves to) through `f`, staying synchronous when `v` is. */
export function mapMaybePromise<T, U>(v: T | PromiseLike<T>, f: (t: T) => U | Promise<U>): U | Promise<U> {
  if (v !== null && typeof v === "object" && typeof (v as PromiseLike<T>).then === "function") {
    return Promise.resolve(v).then(f);
  }
  return f(v as T);
}
