/** Light and dark themes: the system's setting unless the user toggled it (remembered in localStorage). */
export type Theme = 'light' | 'dark';

const KEY = 'bpstudio.theme';

function stored(): Theme | null {
  try {
    const v = localStorage.getItem(KEY);
    return v === 'light' || v === 'dark' ? v : null;
  } catch {
    return null;
  }
}

const media = typeof matchMedia === 'function' ? matchMedia('(prefers-color-scheme: dark)') : null;

export const theme = $state<{ override: Theme | null; system: Theme }>({
  override: stored(),
  system: media?.matches ? 'dark' : 'light',
});

media?.addEventListener('change', (e) => {
  theme.system = e.matches ? 'dark' : 'light';
});

export function currentTheme(): Theme {
  return theme.override ?? theme.system;
}

/** Switches to the other theme and remembers the choice (back to following the system when it matches it). */
export function toggleTheme(): void {
  const next: Theme = currentTheme() === 'dark' ? 'light' : 'dark';
  theme.override = next === theme.system ? null : next;
  try {
    if (theme.override) localStorage.setItem(KEY, theme.override);
    else localStorage.removeItem(KEY);
  } catch {
    // storage unavailable: the choice lasts for this session
  }
}
