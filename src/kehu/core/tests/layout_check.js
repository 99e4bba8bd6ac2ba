// The layout problems of the page as it is drawn now, as short sentences (none: an empty list).
// Evaluated by test_layout.py at each width; it waits two frames so resize handlers (ECharts)
// have run. Deterministic: it reads boxes, never timing.
async () => {
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  const problems = [];
  const width = window.innerWidth;
  const html = document.documentElement;
  const rem = parseFloat(getComputedStyle(html).fontSize);
  const visible = (el) => el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true });
  const describe = (el) => {
    const text = (el.innerText || el.value || "").trim().replace(/\s+/g, " ").slice(0, 30);
    return el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
      (el.classList.length ? "." + [...el.classList].slice(0, 3).join(".") : "") +
      (text ? ` "${text}"` : "");
  };
  const scrolls = (el) => {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (["auto", "scroll", "hidden", "clip"].includes(getComputedStyle(up).overflowX)) {
        return true;
      }
    }
    return false;
  };

  // 1. The page never scrolls sideways; name the outermost boxes that stick out.
  if (html.scrollWidth > width) {
    const culprits = [...document.body.querySelectorAll("*")]
      .filter((el) => el.getBoundingClientRect().right > width + 0.5 && visible(el) && !scrolls(el))
      .filter((el, _, all) => !all.includes(el.parentElement))
      .slice(0, 3).map(describe);
    problems.push(`page is ${html.scrollWidth}px wide in a ${width}px window: ${culprits.join(", ")}`);
  }

  // 2. The menu keeps its 13rem on desktop; below 992px it is an off-canvas drawer.
  const sidebar = document.getElementById("kehu-sidebar");
  if (sidebar && width >= 992) {
    const actual = sidebar.getBoundingClientRect().width;
    if (actual < 13 * rem - 0.5) problems.push(`sidebar is ${actual.toFixed(0)}px wide, not 13rem`);
  } else if (sidebar && visible(sidebar) && !sidebar.matches(".show, .showing, .hiding")) {
    problems.push("the menu takes room on a narrow screen instead of being a drawer");
  }

  // 3. Nothing overlaps in the top bar, the menu, and each page's title row.
  const groups = [...document.querySelectorAll("[data-kehu-no-overlap]")];
  document.querySelectorAll("main h1").forEach((title) => {
    if (title.parentElement.tagName !== "MAIN") groups.push(title.parentElement);
  });
  const ITEMS = "a, button, select, input:not([type=hidden]), textarea, label, .badge, h1, h2, h3, h4, h5";
  for (const group of new Set(groups)) {
    if (!visible(group)) continue;
    // Each line box of an element on its own: a link broken over two lines is two boxes.
    const items = [...group.querySelectorAll(ITEMS)].filter(visible).flatMap((el) =>
      [...el.getClientRects()].filter((r) => r.width > 1 && r.height > 1).map((r) => [el, r]));
    const reported = new Set();
    for (let i = 0; i < items.length; i++) {
      for (let j = i + 1; j < items.length; j++) {
        const [a, ra] = items[i];
        const [b, rb] = items[j];
        if (a === b || a.contains(b) || b.contains(a)) continue;
        const x = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
        const y = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
        const text = `${describe(a)} overlaps ${describe(b)}`;
        if (x > 1 && y > 1 && !reported.has(text)) {
          reported.add(text);
          problems.push(text);
        }
      }
    }
  }

  // 4. No text wraps one character per line (仪/表/盘), and no button label wraps at all.
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  const lines = (rects) => new Set(rects.map((r) => Math.round(r.top / 4))).size;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    const parent = node.parentElement;
    if (text.length < 2 || !parent || parent.closest("script, style, option, [hidden]")) continue;
    if (!visible(parent) || parent.getBoundingClientRect().width <= 2) continue;
    range.selectNodeContents(node);
    const rects = [...range.getClientRects()].filter((r) => r.width > 0);
    if (rects.length < 2) continue;
    const size = parseFloat(getComputedStyle(parent).fontSize);
    if (lines(rects) >= 2 && rects.every((r) => r.width <= 1.6 * size)) {
      problems.push(`"${text.slice(0, 20)}" wraps one character per line in ${describe(parent)}`);
    } else if (parent.closest(".btn") && lines(rects) >= 2) {
      problems.push(`button label "${text.slice(0, 20)}" wraps onto ${lines(rects)} lines`);
    }
  }

  // 5. A chart's legend clears its axes' labels (the forecast's legend sat on the months).
  if (window.echarts) {
    document.querySelectorAll("[_echarts_instance_]").forEach((el) => {
      const chart = window.echarts.getInstanceByDom(el);
      if (!chart || !visible(el)) return;
      // A component's drawn texts (an axis's labels and name; a legend's item names), each as
      // a box in the chart's pixels. An axis's split lines are not its labels.
      const texts = (component) => {
        const view = component && chart.getViewOfComponentModel(component);
        const found = [];
        if (!view || !view.group) return found;
        view.group.traverse((element) => {
          if (element.type !== "text" || element.ignore || element.invisible) return;
          const rect = element.getBoundingRect().clone();
          const transform = element.getComputedTransform();
          if (transform) rect.applyTransform(transform);
          if (rect.width > 0 && rect.height > 0) found.push(rect);
        });
        return found;
      };
      const model = chart.getModel();
      const legends = model.findComponents({ mainType: "legend" }).map((legend) => {
        const group = chart.getViewOfComponentModel(legend).group;
        const rect = group.getBoundingRect().clone();
        const transform = group.getComputedTransform();
        if (transform) rect.applyTransform(transform);
        return rect;
      }).filter((rect) => rect.width > 0 && rect.height > 0);
      const axes = ["xAxis", "yAxis"].flatMap((type) =>
        model.findComponents({ mainType: type }).flatMap(texts).map((rect) => [type, rect]));
      const hits = new Set();
      for (const legend of legends) {
        for (const [type, label] of axes) {
          if (legend.intersect(label)) hits.add(type);
        }
      }
      hits.forEach((type) => problems.push(`the legend of chart ${describe(el)} overlaps its ${type} labels`));
    });
  }
  return problems;
}
