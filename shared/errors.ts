// One error type for every process and transport. The router turns whatever a call throws
// into a BoxkeepError (from(), there and nowhere else on the way); it crosses IPC, WebSocket
// and the local socket as {code, message} (toWireError) and is rebuilt once, on the receiving
// side, with fromWire().

export const ERROR_CODES = [
  'InvalidArgument',
  'NotFound',
  'AlreadyExists',
  'InvalidState',
  'Storage',
  'Vm',
  'Internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface WireError {
  code: ErrorCode;
  message: string;
}

/** CLI exit codes, as the contract states them. */
export const EXIT_CODES: Record<ErrorCode, number> = {
  InvalidArgument: 2,
  NotFound: 3,
  AlreadyExists: 4,
  InvalidState: 5,
  Storage: 1,
  Vm: 1,
  Internal: 1,
};

export class BoxkeepError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BoxkeepError';
    this.code = code;
  }

  toWire(): WireError {
    return { code: this.code, message: this.message };
  }

  static fromWire(wire: unknown): BoxkeepError {
    if (isWireError(wire)) return new BoxkeepError(wire.code, wire.message);
    return new BoxkeepError('Internal', 'An error arrived in an unknown shape: ' + safeJson(wire));
  }

  /** Anything thrown becomes a BoxkeepError; unknown errors are Internal, keeping their text. */
  static from(err: unknown): BoxkeepError {
    if (err instanceof BoxkeepError) return err;
    const message = err instanceof Error ? err.message : String(err);
    return new BoxkeepError('Internal', message, { cause: err });
  }
}

/**
 * The {code, message} a failed call crosses a transport as. Routers reject with BoxkeepError
 * only, so its fields go as they are; anything else (Electron IPC itself failing, a fault in a
 * native dialog) goes as Internal with its text.
 */
export function toWireError(err: unknown): WireError {
  if (err instanceof BoxkeepError) return err.toWire();
  return { code: 'Internal', message: err instanceof Error ? err.message : String(err) };
}

export function isWireError(value: unknown): value is WireError {
  if (typeof value !== 'object' || value === null) return false;
  const { code, message } = value as Record<string, unknown>;
  return typeof message === 'string' && (ERROR_CODES as readonly unknown[]).includes(code);
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value)?.slice(0, 200) ?? String(value);
  } catch {
    return String(value);
  }
}

export const invalidArgument = (message: string) => new BoxkeepError('InvalidArgument', message);
export const notFound = (message: string) => new BoxkeepError('NotFound', message);
export const alreadyExists = (message: string) => new BoxkeepError('AlreadyExists', message);
export const invalidState = (message: string) => new BoxkeepError('InvalidState', message);
export const storageError = (message: string, cause?: unknown) => new BoxkeepError('Storage', message, { cause });
export const vmError = (message: string, cause?: unknown) => new BoxkeepError('Vm', message, { cause });
