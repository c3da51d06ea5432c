#!/usr/bin/env node
// The `boxkeep` command under its old name, for scripts that run bin/boxkeep.mjs. The command
// itself is bin/boxkeep.cjs (package.json "bin"), which starts faster: it skips Node's ES module
// loader, which this file, being one, cannot.
import './boxkeep.cjs';
