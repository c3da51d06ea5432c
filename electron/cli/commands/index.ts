// Every command group the CLI knows. A new group is one file in this folder and one line here.
import type { CommandGroup } from '../command.js';
import { boxCommands } from './box.js';
import { imageCommands } from './image.js';
import { snapshotCommands } from './snapshot.js';
import { serveCommands } from './serve.js';
import { systemCommands } from './system.js';

export const groups: CommandGroup[] = [
  imageCommands,
  boxCommands,
  snapshotCommands,
  systemCommands,
  serveCommands,
];
