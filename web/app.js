// pichat's page: a chat client over a WebSocket that speaks exactly what a
// telnet user sees and types. Every line is shown as text (textContent),
// never as markup. The nick and the room are kept in localStorage and asked
// for again after every (re)connect; a dropped connection is tried again
// with a growing, jittered delay.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const log = $('log');
  const input = $('input');
  const stateEl = $('state');
  const memberList = $('member-list');
  const membersEl = $('members');
  const toggle = $('members-toggle');
  const MAX_LINES = 1000;
  const HISTORY = '[history] ';

  const store = {
    get(k) { try { return localStorage.getItem('pichat.' + k); } catch (e) { return null; } },
    set(k, v) { try { localStorage.setItem('pichat.' + k, v); } catch (e) { /* private mode */ } },
  };

  let ws = null;
  let attempt = 0;
  let retryTimer = null;
  let me = null;
  let room = null;
  let members = [];
  let restored = false;      // the saved nick and room were asked for on this connection
  let whoQuiet = 0;          // /who replies the page asked for itself: not shown
  let inWho = false;

  function setState(text, state) {
    stateEl.textContent = text;
    stateEl.dataset.state = state;
  }

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  }

  // One line of the log, made of [class, text] parts, all text.
  function addLine(cls, parts) {
    const stick = nearBottom();
    const li = document.createElement('li');
    li.className = cls;
    for (const [pcls, text] of parts) {
      if (pcls) {
        const span = document.createElement('span');
        span.className = pcls;
        span.textContent = text;
        li.appendChild(span);
      } else {
        li.appendChild(document.createTextNode(text));
      }
    }
    log.appendChild(li);
    while (log.childElementCount > MAX_LINES) log.firstElementChild.remove();
    if (stick) log.scrollTop = log.scrollHeight;
    return li;
  }

  function renderMembers() {
    memberList.textContent = '';
    const sorted = members.slice().sort((a, b) => a.localeCompare(b));
    for (const nick of sorted) {
      const li = document.createElement('li');
      li.textContent = nick;
      if (nick === me) li.className = 'me';
      memberList.appendChild(li);
    }
    $('count').textContent = String(members.length);
  }

  function setMembers(list) { members = Array.from(new Set(list)); renderMembers(); }
  function addMember(nick) { if (!members.includes(nick)) members.push(nick); renderMembers(); }
  function dropMember(nick) { members = members.filter((n) => n !== nick); renderMembers(); }
  function renameMember(from, to) {
    members = members.map((n) => (n === from ? to : n));
    renderMembers();
  }

  function send(line) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(line);
    return true;
  }

  function askWho() {
    whoQuiet++;
    send('/who');
  }

  // After the greeting: the nick and room this browser had before (the
  // room is kept only once it is entered, so a refused /join keeps it).
  function restore() {
    restored = true;
    const nick = store.get('nick');
    const saved = store.get('room');
    if (nick && nick !== me) send('/nick ' + nick);
    if (saved && saved !== room) send('/join ' + saved);
    else store.set('room', room);
    askWho();
  }

  // A notice ("* ...") that tells the page who and where it is.
  function track(text) {
    let m;
    if ((m = /^\* you are (\S+), in room (\S+) \(/.exec(text))) {
      me = m[1];
      room = m[2];
      $('nick').textContent = me;
      $('room').textContent = room;
      setMembers([me]);
      if (!restored) {
        restore();
      } else {
        store.set('room', room);
        askWho();
      }
    } else if ((m = /^\* you are now known as (\S+)$/.exec(text))) {
      renameMember(me, m[1]);
      me = m[1];
      $('nick').textContent = me;
      store.set('nick', me);
      renderMembers();
    } else if ((m = /^\* (\S+) is now known as (\S+)$/.exec(text))) {
      renameMember(m[1], m[2]);
    } else if ((m = /^\* (\S+) entered room (\S+)$/.exec(text))) {
      addMember(m[1]);
    } else if ((m = /^\* (\S+) left room (\S+) \(/.exec(text))) {
      dropMember(m[1]);
    }
  }

  // The replies to a /who the page sent itself fill the member list only.
  function who(text) {
    if (/^\* members of room \S+:$/.test(text)) {
      inWho = true;
      if (whoQuiet) members = [];
      return whoQuiet > 0;
    }
    if (inWho && text.startsWith('*   ')) {
      if (whoQuiet) { for (const n of text.slice(4).split(' ')) if (n) addMember(n); }
      return whoQuiet > 0;
    }
    if (inWho && /^\* \d+ members?$/.test(text)) {
      inWho = false;
      const quiet = whoQuiet > 0;
      if (quiet) whoQuiet--;
      return quiet;
    }
    return false;
  }

  function show(text) {
    let history = false;
    if (text.startsWith(HISTORY)) {
      history = true;
      text = text.slice(HISTORY.length);
    }
    const tag = history ? [['tag', 'history']] : [];
    const extra = history ? ' history' : '';
    let m;
    if ((m = /^<([^>\s]+)> ([\s\S]*)$/.exec(text))) {
      addLine('chat' + extra, tag.concat([['nick', '<' + m[1] + '>'], [null, ' ' + m[2]]]));
    } else if (/^(-> )?\*\S+\* /.test(text)) {
      addLine('private' + extra, tag.concat([[null, text]]));
    } else if (text.startsWith('* ')) {
      if (!history) track(text);
      addLine('notice' + extra, tag.concat([[null, text]]));
    } else {
      addLine('error' + extra, tag.concat([[null, text]]));
    }
  }

  function onMessage(ev) {
    const text = String(ev.data);
    if (who(text)) return;
    show(text);
  }

  function reconnectDelay() {
    // 1, 2, 4, ... 30 s, each between half and all of it: a room's
    // browsers do not all come back at the same moment after a restart.
    const full = Math.min(30, Math.pow(2, attempt));
    attempt++;
    return Math.max(1, Math.round(full * (0.5 + Math.random() / 2)));
  }

  function scheduleReconnect(why) {
    if (retryTimer) return;
    let secs = reconnectDelay();
    addLine('status', [[null, 'disconnected (' + why + '); trying again in ' + secs + ' s']]);
    setState('disconnected: reconnecting in ' + secs + ' s', 'down');
    const tick = () => {
      secs--;
      if (secs <= 0) {
        retryTimer = null;
        connect();
        return;
      }
      setState('disconnected: reconnecting in ' + secs + ' s', 'down');
      retryTimer = setTimeout(tick, 1000);
    };
    retryTimer = setTimeout(tick, 1000);
  }

  function connect() {
    if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
    restored = false;
    whoQuiet = 0;
    inWho = false;
    setState('connecting\u2026', 'connecting');
    const sock = new WebSocket(url);
    ws = sock;
    sock.onopen = () => {
      if (attempt > 0) addLine('status', [[null, 'connected again']]);
      attempt = 0;
      setState('connected', 'connected');
    };
    sock.onmessage = onMessage;
    sock.onclose = (ev) => {
      if (ws !== sock) return;
      ws = null;
      setMembers([]);
      scheduleReconnect(ev.reason || (ev.code === 1006 ? 'connection lost' : 'code ' + ev.code));
    };
  }

  $('send').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const line = input.value;
    if (!line.trim()) return;
    if (!send(line)) {
      addLine('status', [[null, 'not connected: not sent']]);
      return;
    }
    input.value = '';
    if (line.startsWith('//')) {
      addLine('chat mine', [['nick', '<' + (me || 'you') + '>'], [null, ' ' + line.slice(1)]]);
    } else if (line.startsWith('/')) {
      addLine('command', [[null, line]]);
      if (/^\/who\s*$/i.test(line)) inWho = false;
    } else {
      addLine('chat mine', [['nick', '<' + (me || 'you') + '>'], [null, ' ' + line]]);
    }
  });

  toggle.addEventListener('click', () => {
    const open = membersEl.classList.toggle('open');
    toggle.setAttribute('aria-expanded', String(open));
  });

  // Back on the network: no need to wait for the timer.
  window.addEventListener('online', () => { if (!ws) { attempt = 0; connect(); } });

  connect();
})();
