import { expect } from 'vitest';
import { BoxkeepError } from '../../shared/errors.js';

/** The BoxkeepError a promise (or a function, sync or async) rejects with; fails if it resolves. */
export async function rejection(work: Promise<unknown> | (() => unknown)): Promise<BoxkeepError> {
  const run = typeof work === 'function' ? Promise.resolve().then(work) : work;
  const err = await run.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BoxkeepError);
  return err as BoxkeepError;
}
