#!/usr/bin/env node
// The `tesserae` command of the installed package (built JavaScript); a checkout runs bin/tesserae.mjs.
import { main } from "./cli.ts";

process.exitCode = await main(process.argv.slice(2));
