/** Short messages over the canvas (a refused connection, a saved file). */
export type ToastKind = 'info' | 'error' | 'success';

export interface Toast {
  id: number;
  kind: ToastKind;
  text: string;
}

let next = 1;

export const toasts = $state<{ list: Toast[] }>({ list: [] });

export function toast(text: string, kind: ToastKind = 'info', ms = kind === 'error' ? 6000 : 3000): void {
  const id = next++;
  toasts.list = [...toasts.list.slice(-3), { id, kind, text }];
  setTimeout(() => dismiss(id), ms);
}

export function dismiss(id: number): void {
  toasts.list = toasts.list.filter((t) => t.id !== id);
}

/** A toast that stays while work goes on (an export): `update` changes its text, `done` dismisses it. */
export interface BusyToast {
  update(text: string): void;
  done(): void;
}

export function busyToast(text: string): BusyToast {
  const id = next++;
  toasts.list = [...toasts.list.slice(-3), { id, kind: 'info', text }];
  return {
    update: (t) => (toasts.list = toasts.list.map((x) => (x.id === id ? { ...x, text: t } : x))),
    done: () => dismiss(id),
  };
}
