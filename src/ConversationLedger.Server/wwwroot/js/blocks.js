// A message's content blocks as the page shows them: text as safe Markdown, thinking collapsed, tool calls and results
// as what they are, anything else by its type with its JSON.
import { h } from './dom.js';
import { setMarkdown } from './markdown.js';

/** The plain text of a message (its text blocks), or null when it has other blocks (then it cannot be edited as text). */
export function plainText(content) {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content) || content.some(b => b.type !== 'text')) return null;
  return content.map(b => b.text).join('\n\n');
}

export function renderContent(content) {
  const blocks = typeof content === 'string' ? [{ type: 'text', text: content }] : content ?? [];
  return blocks.map(renderBlock);
}

export function markdownElement(text) {
  const element = h('div', { class: 'md' });
  setMarkdown(element, text);
  return element;
}

function renderBlock(block) {
  switch (block.type) {
    case 'text':
      return markdownElement(block.text);
    case 'thinking':
      return thinkingElement(block.thinking, false);
    case 'redacted_thinking':
      return h('div', { class: 'block-box thinking', dataset: { block: 'redacted_thinking' } },
        h('div', { class: 'block-title' }, 'Thinking (redacted by the API; sent back as it came)'));
    case 'tool_use':
    case 'server_tool_use':
      return h('div', { class: 'block-box tool-call', dataset: { block: block.type } },
        h('div', { class: 'block-title' }, 'Tool call ', h('code', {}, block.name ?? ''), ' ', h('span', { class: 'muted' }, block.id ?? '')),
        h('div', { class: 'block-content' }, h('pre', {}, JSON.stringify(block.input ?? {}, null, 2))));
    case 'tool_result':
      return h('div', { class: `block-box tool-result${block.is_error ? ' is-error' : ''}`, dataset: { block: 'tool_result' } },
        h('div', { class: 'block-title' }, block.is_error ? 'Tool error for ' : 'Tool result for ', h('code', {}, block.tool_use_id ?? '')),
        h('div', { class: 'block-content' }, ...toolResultContent(block.content)));
    case 'image':
      return h('div', { class: 'block-box', dataset: { block: 'image' } }, h('div', { class: 'block-title' }, `Image (${block.source?.media_type ?? block.source?.type ?? 'attached'})`));
    case 'document':
      return h('div', { class: 'block-box', dataset: { block: 'document' } }, h('div', { class: 'block-title' }, `Document${block.title ? `: ${block.title}` : ''}`));
    default:
      return h('details', { class: 'block-box', dataset: { block: block.type ?? 'unknown' } },
        h('summary', {}, `Block of type ${block.type ?? 'unknown'}`),
        h('div', { class: 'block-content' }, h('pre', {}, JSON.stringify(block, null, 2))));
  }
}

function toolResultContent(content) {
  if (content === undefined || content === null) return [h('p', { class: 'muted' }, '(empty)')];
  if (typeof content === 'string') return [h('pre', {}, content)];
  return content.map(b => (b.type === 'text' ? h('pre', {}, b.text) : renderBlock(b)));
}

/** A thinking block: collapsed once the reply is whole, open while it streams. */
export function thinkingElement(text, open) {
  const shown = text && text.length > 0;
  const details = h('details', { class: 'block-box thinking', dataset: { block: 'thinking' } },
    h('summary', {}, shown ? 'Thinking' : 'Thinking (not shown by the model; kept signed)'),
    h('div', { class: 'block-content' }, shown ? h('pre', { class: 'thinking-text' }, text) : h('p', { class: 'muted' }, 'The model returned its thinking without text.')));
  details.open = Boolean(open);
  return details;
}
