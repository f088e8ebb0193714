import { describe, expect, it } from 'vitest';
import { escapeMarkdown } from '../../src/workflows/saga-runtime';

describe('operator text in the UI’s current details', () => {
  it('cannot start a heading, a link or a table cell: newlines fold, markdown characters are escaped', () => {
    const shown = escapeMarkdown('refunded\n## APPROVED BY FINANCE [open the ticket](https://e.x) | paid');
    expect(shown).not.toContain('\n');
    expect(shown).toBe('refunded \\#\\# APPROVED BY FINANCE \\[open the ticket\\]\\(https://e.x\\) \\| paid');
  });
});
