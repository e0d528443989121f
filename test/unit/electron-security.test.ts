import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  APP_INDEX_URL,
  appUrlFile,
  contentSecurityPolicy,
  contentType,
  isTrustedSender,
  permissionAllowed,
  rendererFile,
  rendererHeaders,
} from '../../electron/security';

const R = '/app/dist/renderer';
const top = (url: string) => ({ url, isTop: true });

describe('IPC sender check', () => {
  it('trusts only the main window\'s top frame showing the app', () => {
    expect(isTrustedSender({ webContentsId: 1, frame: top(APP_INDEX_URL) }, 1)).toBe(true);
    expect(isTrustedSender({ webContentsId: 1, frame: top('app://studio/index.html?x=1#y') }, 1)).toBe(true);
  });
  it.each([
    ['another window', { webContentsId: 2, frame: top(APP_INDEX_URL) }, 1],
    ['no main window', { webContentsId: 1, frame: top(APP_INDEX_URL) }, null],
    ['a subframe', { webContentsId: 1, frame: { url: APP_INDEX_URL, isTop: false } }, 1],
    ['a destroyed frame', { webContentsId: 1, frame: null }, 1],
    ['a page navigated elsewhere', { webContentsId: 1, frame: top('https://evil.example/') }, 1],
    ['a file URL', { webContentsId: 1, frame: top('file:///app/dist/renderer/index.html') }, 1],
    ['another app host', { webContentsId: 1, frame: top('app://other/index.html') }, 1],
    ['garbage', { webContentsId: 1, frame: top('not a url') }, 1],
  ])('refuses %s', (_what, sender, main) => {
    expect(isTrustedSender(sender, main as number | null)).toBe(false);
  });
});

describe('renderer files', () => {
  it('maps app:// URLs into the renderer folder', () => {
    expect(appUrlFile(R, 'app://studio/')).toBe(join(R, 'index.html'));
    expect(appUrlFile(R, 'app://studio/index.html?open=x')).toBe(join(R, 'index.html'));
    expect(appUrlFile(R, 'app://studio/assets/index-abc.js')).toBe(join(R, 'assets', 'index-abc.js'));
    expect(appUrlFile(R, 'app://studio/assets/a%20b.css')).toBe(join(R, 'assets', 'a b.css'));
  });
  it('a URL\'s own dot segments are resolved by the URL parser, inside the folder', () => {
    expect(appUrlFile(R, 'app://studio/../secret')).toBe(join(R, 'secret'));
    expect(appUrlFile(R, 'app://studio/assets/%2e%2e/%2e%2e/etc/passwd')).toBe(join(R, 'etc', 'passwd'));
  });
  it.each([
    'app://studio/..%2f..%2fetc/passwd',
    'app://studio/a%5c..%5c..%5cx',
    'app://studio/%00',
    'app://studio/%E0%A4%A',
    'app://other/index.html',
    'file:///etc/passwd',
  ])('refuses %s', (url) => {
    expect(appUrlFile(R, url)).toBeNull();
  });
  it('refuses a path that leaves the folder', () => {
    expect(rendererFile(R, '/a/../../b')).toBeNull();
    expect(rendererFile(R, '/./assets/x.js')).toBe(join(R, 'assets', 'x.js'));
  });
  it('sends types, the CSP and no-sniff', () => {
    expect(contentType('x.js')).toMatch(/^text\/javascript/);
    expect(contentType('x.unknown')).toBe('application/octet-stream');
    const h = rendererHeaders('/r/index.html', 'csp');
    expect(h['Content-Security-Policy']).toBe('csp');
    expect(h['X-Content-Type-Options']).toBe('nosniff');
    expect(h['Referrer-Policy']).toBe('no-referrer');
  });
});

describe('Content-Security-Policy', () => {
  it('is strict: only our own scripts, no eval, no inline scripts, no objects, no framing', () => {
    const csp = contentSecurityPolicy();
    const d = Object.fromEntries(csp.split('; ').map((p) => [p.split(' ')[0], p.split(' ').slice(1)]));
    expect(d['default-src']).toEqual(["'self'"]);
    expect(d['script-src']).toEqual(["'self'"]);
    expect(d['style-src']).toEqual(["'self'", "'unsafe-inline'"]);
    expect(d['img-src']).toEqual(["'self'", 'data:', 'blob:']);
    expect(d['connect-src']).toEqual(["'self'"]);
    expect(d['object-src']).toEqual(["'none'"]);
    expect(d['frame-ancestors']).toEqual(["'none'"]);
    expect(csp).not.toMatch(/unsafe-eval/);
    expect(contentSecurityPolicy(['ws://127.0.0.1:5'])).toContain("connect-src 'self' ws://127.0.0.1:5");
  });
});

describe('permissions', () => {
  it('refuses every permission but writing text to the clipboard', () => {
    for (const p of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal', 'fullscreen', 'hid', 'serial', 'usb'])
      expect(permissionAllowed(p)).toBe(false);
    expect(permissionAllowed('clipboard-sanitized-write')).toBe(true);
  });
});
