// The lab's two halves: the task panel and the terminal. The panel
// collapses so the terminal takes the width (the terminal refits itself:
// it observes its own size); the choice is kept in this browser. Narrow
// screens stack the tasks above the terminal.
import { useState, type ReactNode } from 'react'

const key = 'ckalab.tasks.collapsed'

export function LabLayout({ panel, tabs, children }: { panel?: ReactNode; tabs: ReactNode; children: ReactNode }) {
  const [collapsed, setCollapsed] = useState(() => localStorage.getItem(key) === '1')
  const toggle = () => {
    localStorage.setItem(key, collapsed ? '0' : '1')
    setCollapsed(!collapsed)
  }
  return (
    <div className={!panel ? '' : collapsed ? 'lab-layout collapsed' : 'lab-layout'}>
      {/* Hidden, not unmounted: the panel keeps its results and solution. */}
      {panel && <div className="lab-side" id="lab-tasks" hidden={collapsed}>{panel}</div>}
      <div className="lab-terminal">
        <div className="lab-terminal-head">
          {tabs}
          {panel && <button className="secondary small panel-toggle" aria-expanded={!collapsed} aria-controls="lab-tasks" onClick={toggle}
            title={collapsed ? 'Show the tasks beside the terminal' : 'Hide the tasks: the terminal takes the width'}>{collapsed ? 'Show tasks' : 'Hide tasks'}</button>}
        </div>
        {children}
      </div>
    </div>
  )
}
