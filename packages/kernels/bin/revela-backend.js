#!/usr/bin/env node
// A committed file rather than dist/cli.js itself: package managers link bins at install time,
// before the workspace is built, and warn about a bin whose target does not exist yet.
import "../dist/cli.js";
