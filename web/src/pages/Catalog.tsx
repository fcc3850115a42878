import type { Me } from '../api'
import { Empty } from '../ui'

export function CatalogPage({ me }: { me: Me }) {
  return (
    <div>
      <div className="page-head">
        <div>
          <h1>Labs</h1>
          <p className="muted">Hands-on CKA tasks on a cluster of your own. Pick a lab, press Start, and the terminal opens on your control-plane node.</p>
        </div>
      </div>
      <Empty title="No labs yet">
        <p className="muted">The lab catalog is empty on this server. {me.user.role === 'student' ? 'Your instructor will publish labs soon.' : 'Add lab folders under labs/ and restart ckalab.'}</p>
      </Empty>
    </div>
  )
}
