// Operating-system plumbing shared by the etcd and etcdeck helpers: free
// loopback ports, temporary directories, and child processes whose output is
// kept for error messages and which are always killed at the end.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (the folder above `e2e/`). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A fresh, empty temporary directory; `prefix` names what it is for. */
export async function tempDir(prefix) {
  return mkdtemp(path.join(os.tmpdir(), `etcdeck-e2e-${prefix}-`));
}

export async function removeDir(dir) {
  if (dir) await rm(dir, { recursive: true, force: true });
}

/** Every process started through `startProcess` that has not exited yet. */
const running = new Set();

// If the test process itself dies, take the children with it.
process.on('exit', () => {
  for (const child of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

/**
 * Starts a program with its stdout and stderr captured (the last 64 KiB of
 * each, for error messages).
 *
 * @returns {{ child: import('node:child_process').ChildProcess, output: () => string,
 *             exited: Promise<{code: number|null, signal: string|null}>,
 *             kill: (signal?: string) => Promise<void> }}
 */
export function startProcess(name, command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  running.add(child);
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk.toString()).slice(-64 * 1024);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
    child.on('error', (err) => {
      running.delete(child);
      keep(`\n[${name} could not be started: ${err.message}]\n`);
      resolve({ code: null, signal: null, error: err });
    });
  });
  let done = false;
  exited.then(() => {
    done = true;
  });
  return {
    name,
    child,
    output: () => output,
    hasExited: () => done,
    exited,
    /** Sends `signal` (SIGKILL by default) and waits until the process is gone. */
    async kill(signal = 'SIGKILL') {
      if (!done) child.kill(signal);
      await exited;
    },
  };
}

/** Runs a program to completion; rejects with its output if it fails. */
export function run(command, args, { input, env, timeout = 20_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    const out = [];
    const err = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out);
      const stderr = Buffer.concat(err).toString();
      if (code === 0) resolve({ stdout, stderr });
      else {
        const how = signal ? `killed by ${signal}` : `exit code ${code}`;
        reject(new Error(`${command} ${args.join(' ')} failed (${how}): ${stderr.trim()}`));
      }
    });
    child.stdin.end(input ?? '');
  });
}
