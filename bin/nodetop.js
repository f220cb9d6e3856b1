#!/usr/bin/env node
require('../dist/src/cli.js').main(process.argv.slice(2));
