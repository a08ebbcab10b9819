import { html, jsonScript, raw } from './html';

test('every interpolated value is escaped unless it is already markup', () => {
  const name = `<script>alert("x")</script> & 'co'`;
  expect(html`<p title="${name}">${name}</p>`.text).toBe('<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;</p>');
  expect(html`<ul>${['<a>', html`<li>b</li>`]}</ul>`.text).toBe('<ul>&lt;a&gt;<li>b</li></ul>');
  expect(html`${undefined}${null}${false}${raw('<br>')}${0}`.text).toBe('<br>0');
});

test('JSON in a script element cannot close the element', () => {
  expect(jsonScript({ what: '</script><script>alert(1)</script>' }).text).not.toContain('</script>');
  expect(JSON.parse(jsonScript({ what: '</script>' }).text)).toEqual({ what: '</script>' });
});
