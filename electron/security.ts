/**
 * The security decisions of the shell as plain functions: the Content-Security-Policy, the app:// scheme that
 * serves the built renderer, which IPC senders are trusted, and which permissions a page gets.
 */
import { extname, join, normalize, sep } from 'node:path';
import { isWithin } from './fs-util';

/** The scheme and host the renderer is loaded from in Electron: `app://studio/index.html`. */
export const APP_SCHEME = 'app';
export const APP_HOST = 'studio';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_INDEX_URL = `${APP_ORIGIN}/index.html`;

/**
 * The page's Content-Security-Policy (sent as a response header on every renderer file, in Electron and in web
 * mode). `extraConnect` adds sources to connect-src (web mode's WebSocket URL).
 */
export function contentSecurityPolicy(extraConnect: string[] = []): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    ["connect-src 'self'", ...extraConnect].join(' '),
    "worker-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
  '.bpstudio': 'application/json; charset=utf-8',
};

export function contentType(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/** Headers sent with every file of the renderer. */
export function rendererHeaders(path: string, csp: string): Record<string, string> {
  return {
    'Content-Type': contentType(path),
    'Content-Security-Policy': csp,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cache-Control': 'no-cache',
  };
}

/**
 * The file of `rendererDir` that a URL path names (`/` is index.html), or null when it names none: `..`, NUL,
 * backslashes and anything that would leave the folder are refused.
 */
export function rendererFile(rendererDir: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const parts = decoded.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) return null;
  const rel = parts.length === 0 ? 'index.html' : parts.join(sep);
  const file = normalize(join(rendererDir, rel));
  return isWithin(rendererDir, file) ? file : null;
}

/** The file an `app://studio/...` URL names, or null (another host, scheme or a path that leaves the folder). */
export function appUrlFile(rendererDir: string, url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.protocol !== `${APP_SCHEME}:` || u.host !== APP_HOST) return null;
  return rendererFile(rendererDir, u.pathname);
}

/** Whether a URL is a page of ours (the app:// origin). */
export function isAppUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST;
  } catch {
    return false;
  }
}

/** Who sent an IPC message, as far as the check needs it. */
export interface SenderInfo {
  /** `event.sender.id` */
  webContentsId: number;
  /** `event.senderFrame`: null when the frame is gone. */
  frame: { url: string; isTop: boolean } | null;
}

/**
 * Only the main window's top frame, showing our own page, may call the shell: not an iframe, not a page that
 * navigated elsewhere, not another window.
 */
export function isTrustedSender(sender: SenderInfo, mainWebContentsId: number | null): boolean {
  return (
    mainWebContentsId !== null &&
    sender.webContentsId === mainWebContentsId &&
    sender.frame !== null &&
    sender.frame.isTop &&
    isAppUrl(sender.frame.url)
  );
}

/**
 * Permissions a page may get. Everything is refused except writing plain text to the clipboard (the editor's
 * copy), which reads nothing and needs no prompt.
 */
export function permissionAllowed(permission: string): boolean {
  return permission === 'clipboard-sanitized-write';
}

