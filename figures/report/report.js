// Click a table header to sort by it (numbers numerically); a few lines, no library.
document.querySelectorAll('table.sortable th').forEach(function(th){th.addEventListener('click',function(){
var table=th.closest('table'),body=table.tBodies[0],i=Array.prototype.indexOf.call(th.parentNode.children,th);
var asc=!th.classList.contains('asc');
table.querySelectorAll('th').forEach(function(h){h.classList.remove('asc','desc')});
th.classList.add(asc?'asc':'desc');var rows=Array.prototype.slice.call(body.rows);
function key(r){var t=r.cells[i]?r.cells[i].textContent.trim():'';var n=parseFloat(t.replace(/,/g,''));
return isNaN(n)||!/^[-+]?[\d.,]+(e[-+]?\d+)?%?$/i.test(t)?t.toLowerCase():n}
rows.sort(function(a,b){var x=key(a),y=key(b);if(typeof x!==typeof y){x=String(x);y=String(y)}
return (x<y?-1:x>y?1:0)*(asc?1:-1)});rows.forEach(function(r){body.appendChild(r)})})});
