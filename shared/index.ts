export * from './channels.js';
export * from './client.js';
export * from './errors.js';
export * from './events.js';
export * from './names.js';
export * from './types.js';
export * from './validate.js';
export * from './transport.js';
