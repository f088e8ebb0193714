#!/usr/bin/env node
// The `refund-saga` binary: the compiled entry point (`npm run build` writes dist/).
require('../dist/bin.js');
