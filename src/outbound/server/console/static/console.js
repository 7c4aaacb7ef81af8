// outbound console: the only script. Pages work without it; it adds copy buttons and filters
// the template picker as you type.
document.querySelectorAll('.copy-button').forEach((button) => {
  button.hidden = false;
  button.addEventListener('click', async () => {
    const field = document.getElementById(button.dataset.copy);
    try {
      await navigator.clipboard.writeText(field.value);
      button.textContent = 'Copied';
    } catch {
      field.select();
      button.textContent = 'Press Ctrl+C';
    }
  });
});
document.querySelectorAll('input[data-filter]').forEach((input) => {
  const list = document.getElementById(input.dataset.filter);
  input.addEventListener('input', () => {
    const query = input.value.trim().toLowerCase();
    list.querySelectorAll('li[data-name]').forEach((item) => {
      item.hidden = query !== '' && !item.dataset.name.includes(query);
    });
  });
});
