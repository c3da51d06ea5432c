// Node builtins loaded on first use, not at import time. Most commands never spawn a process,
// hash a header, make an id or open a socket, yet loading child_process (which brings net and
// dgram), crypto, net and tty (net again) was a good part of every CLI command's start-up
// (bench/cli.mjs); fs/promises brings readline's interface and the file watchers. getBuiltinModule
// is synchronous: a call site behaves exactly as with a static import.
export const childProcess = () => process.getBuiltinModule('node:child_process');
export const crypto = () => process.getBuiltinModule('node:crypto');
export const net = () => process.getBuiltinModule('node:net');
export const tty = () => process.getBuiltinModule('node:tty');
export const fsPromises = () => process.getBuiltinModule('node:fs/promises');
/** node:zlib brings node:stream: only the screen's PNG code needs it. */
export const zlib = () => process.getBuiltinModule('node:zlib');
/** node:stream: only archives (export, import) pipe through compressors. */
export const stream = () => process.getBuiltinModule('node:stream');
