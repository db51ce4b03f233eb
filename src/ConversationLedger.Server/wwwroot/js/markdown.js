// Markdown from the model and from users, rendered safely: raw HTML in the text is shown as text (never parsed), the
// rendered HTML goes through DOMPurify, links open elsewhere without the page's context, and images become links (the
// page loads nothing from other origins; its Content-Security-Policy would refuse it anyway).
import { Marked } from '../vendor/marked.esm.js';
import DOMPurify from '../vendor/purify.js';

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

const markdown = new Marked({ gfm: true, breaks: true, async: false });
markdown.use({
  renderer: {
    // Block and inline HTML alike: the text as it was typed.
    html(token) { return escapeHtml(token.raw ?? token.text ?? ''); },
    image(token) {
      const label = escapeHtml(token.text || token.href || 'image');
      return `<a href="${escapeHtml(token.href ?? '')}">[image: ${label}]</a>`;
    },
  },
});

const purify = DOMPurify;
purify.addHook('afterSanitizeAttributes', node => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer nofollow');
  }
});

const allowed = {
  ALLOWED_TAGS: ['a', 'b', 'blockquote', 'br', 'code', 'del', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'i', 'li',
    'ol', 'p', 'pre', 's', 'strong', 'sub', 'sup', 'table', 'tbody', 'td', 'th', 'thead', 'tr', 'ul', 'input', 'span'],
  ALLOWED_ATTR: ['href', 'title', 'align', 'type', 'checked', 'disabled', 'class', 'start'],
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#)/i,
};

/** The safe HTML of Markdown `text`. */
export function renderMarkdown(text) {
  return purify.sanitize(markdown.parse(String(text ?? '')), allowed);
}

/** Fills `element` with the rendered Markdown of `text`. */
export function setMarkdown(element, text) {
  element.innerHTML = renderMarkdown(text);
}
