import { describe, expect, it } from 'vitest';
import { PendingRequests } from '@easy-explain/runtime';

describe('PendingRequests', () => {
  it('answers each request once, by id, and forgets it', async () => {
    const pending = new PendingRequests<string, { note?: string }>();
    const a = pending.open({ note: 'first' });
    const b = pending.open();
    expect([a.id, b.id]).toEqual([1, 2]);
    expect(pending.get(a.id)?.note).toBe('first');
    expect(pending.resolve(b.id, 'B')).toBe(true);
    expect(pending.resolve(b.id, 'again')).toBe(false);
    expect(pending.reject(a.id, new Error('nope'))).toBe(true);
    await expect(b.reply).resolves.toBe('B');
    await expect(a.reply).rejects.toThrow('nope');
    expect(pending.size).toBe(0);
  });

  it('rejectAll ends the requests in flight only; fail ends later ones too, and only the first reason counts', async () => {
    const pending = new PendingRequests<number>();
    const first = pending.open();
    pending.rejectAll(new Error('hiccup'));
    await expect(first.reply).rejects.toThrow('hiccup');
    const second = pending.open();
    expect(pending.resolve(second.id, 2)).toBe(true);
    await expect(second.reply).resolves.toBe(2);

    const inFlight = pending.open();
    expect(pending.fail(new Error('gone'))).toBe(true);
    expect(pending.fail(new Error('later'))).toBe(false);
    await expect(inFlight.reply).rejects.toThrow('gone');
    const after = pending.open();
    await expect(after.reply).rejects.toThrow('gone');
    expect(pending.failed?.message).toBe('gone');
    expect(pending.size).toBe(0);
  });
});
