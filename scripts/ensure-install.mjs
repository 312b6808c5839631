// Makes `npm start` / `npm test` work on a fresh clone: installs node_modules when missing or stale,
// and (for tests) finds Chromium, installing Debian's package when we are root on Debian.
import { execSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

function sh(cmd) {
  console.log(`[setup] ${cmd}`);
  execSync(cmd, { stdio: 'inherit' });
}

function nodeModulesStale() {
  const marker = 'node_modules/.package-lock.json';
  if (!existsSync(marker)) return true;
  return statSync('package-lock.json').mtimeMs > statSync(marker).mtimeMs + 1000;
}

if (nodeModulesStale()) sh('npm ci --no-audit --no-fund');

const wantsBrowser = process.env.npm_lifecycle_event === 'pretest' || process.argv.includes('--browser');
if (wantsBrowser) {
  const chromium = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  const vulkan = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1'];
  const needsVulkan = existsSync('/etc/debian_version') && !vulkan.some((p) => existsSync(p));
  if (!existsSync(chromium) || needsVulkan) {
    const isDebian = existsSync('/etc/debian_version');
    const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    if (isDebian && isRoot && !process.env.CHROMIUM_PATH) {
      sh('apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium libvulkan1');
    } else {
      console.error(
        `[setup] Chromium not found at ${chromium}. Browser and WebGPU tests need it: install Chromium ` +
          `(Debian: sudo apt-get install chromium) or set CHROMIUM_PATH to its executable.`,
      );
      process.exit(1);
    }
  }
  if (!process.env.CHROMIUM_PATH && existsSync('/etc/debian_version')) {
    // Debian's chromium ships the SwiftShader Vulkan ICD that Node's WebGPU (Dawn) tests use.
    const icd = '/usr/lib/chromium/vk_swiftshader_icd.json';
    if (!existsSync(icd)) console.warn(`[setup] ${icd} is missing; Node WebGPU tests will fail.`);
  }
}
