// The login page: the one-time code is in the fragment (never sent to a server). It leaves the
// address bar and history before anything else, then is posted once for a session cookie.
const line = document.getElementById('status')!;
const code = location.hash.slice(1);
history.replaceState(null, '', '/login');
if (!code) line.textContent = 'No login code in this link: run q -dashboard and open the link it prints.';
else {
  void fetch('/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) }).then(async (res) => {
    if (res.ok) location.replace('/#/jobs');
    else line.textContent = await res.text();
  });
}
export {};
