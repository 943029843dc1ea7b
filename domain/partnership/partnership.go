// Package partnership holds the rules of partnerships between accounts: the
// request and its approval, and the devices one partner shares with the
// other, including the partner's use of them in its own projects. Sharing
// lives here so that ending a partnership takes every shared device out of
// the partner's projects in the same decision.
package partnership

import (
	"slices"
	"sort"
	"strings"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/device"
)

// Type is the kind of partner. Its zero value is invalid.
type Type struct{ name string }

var (
	Rental        = Type{"rental"}
	Subcontractor = Type{"subcontractor"}
	Contractor    = Type{"contractor"}
)

func (t Type) String() string { return t.name }

// ParseType reads a partner type's name.
func ParseType(s string) (Type, error) {
	for _, t := range []Type{Rental, Subcontractor, Contractor} {
		if strings.EqualFold(s, t.name) {
			return t, nil
		}
	}
	return Type{}, domain.Invalidf("invalid-partner-type", "partner type %q is not one of rental, subcontractor, contractor", s)
}

// Counterpart is what the requester is, by default, to a partner of type
// t: a rental agency's customer and a subcontractor's client are
// contractors; a contractor's partner is its subcontractor (a rental agency
// asking a contractor says so with its own type).
func (t Type) Counterpart() Type {
	if t == Contractor {
		return Subcontractor
	}
	if t == (Type{}) {
		return Type{}
	}
	return Contractor
}

// counterparts are the types a requester may say it is to a partner of
// each type.
var counterparts = map[Type][]Type{
	Rental:        {Contractor, Subcontractor},
	Subcontractor: {Contractor},
	Contractor:    {Subcontractor, Rental},
}

// MarshalText stores a type by name.
func (t Type) MarshalText() ([]byte, error) { return []byte(t.name), nil }

// EnumNames are the names a stored type may hold (domain.Enumerated).
func (Type) EnumNames() []string { return []string{Rental.name, Subcontractor.name, Contractor.name} }

// UnmarshalText reads a stored type.
func (t *Type) UnmarshalText(b []byte) error {
	v, err := ParseType(string(b))
	*t = v
	return err
}

// State is where a partnership stands.
type State string

const (
	None      State = ""
	Pending   State = "pending"
	Approved  State = "approved"
	Declined  State = "declined"
	Withdrawn State = "withdrawn"
	Ended     State = "ended"
)

// ID identifies the partnership between two accounts, whichever asked.
type ID string

// IDOf is the partnership identifier of two accounts, in either order.
func IDOf(a, b domain.AccountID) ID {
	if b < a {
		a, b = b, a
	}
	return ID(string(a) + "+" + string(b))
}

var (
	ErrSelf              = domain.NewError(domain.Conflict, "self-partnership", "an account cannot partner with itself")
	ErrPartnerTypes      = domain.NewError(domain.Invalid, "invalid-partner-types", "to a rental agency an account is its contractor or subcontractor, to a subcontractor its contractor, to a contractor its subcontractor or rental agency")
	ErrAlreadyRequested  = domain.NewError(domain.Conflict, "already-requested", "a partnership request between these accounts is already pending")
	ErrAlreadyPartners   = domain.NewError(domain.Conflict, "already-partners", "these accounts are already partners")
	ErrNotPending        = domain.NewError(domain.Conflict, "not-pending", "there is no pending partnership request")
	ErrNotPartner        = domain.NewError(domain.Forbidden, "not-partner", "the caller's account is not a party to this partnership")
	ErrNotApprover       = domain.NewError(domain.Forbidden, "not-approver", "the caller may not answer this partnership request")
	ErrOwnRequest        = domain.NewError(domain.Forbidden, "own-request", "the requesting account cannot approve or decline its own request")
	ErrNotRequester      = domain.NewError(domain.Forbidden, "not-requester", "only the requesting account may withdraw the request")
	ErrNotApproved       = domain.NewError(domain.Conflict, "not-approved", "the partnership is not approved")
	ErrNotShared         = domain.NewError(domain.NotFound, "not-shared", "the device is not shared with this account")
	ErrAlreadyShared     = domain.NewError(domain.Conflict, "already-shared", "the device is already shared with this partner")
	ErrNoDevices         = domain.Invalidf("no-devices", "name at least one device")
	ErrBaseStationShared = domain.NewError(domain.Conflict, "ibss-not-supported-for-shared-device",
		"the Internet Base Station Service (IBSS) is not supported on devices shared from a partner account; "+
			"only data transfer works. Until this changes, IBSS sharing has to be set up manually in Trimble Connected Community (TCC)")
)

type share struct {
	owner domain.AccountID
	use   device.Use // the partner's use
}

// Partnership is the aggregate of two accounts' relationship.
type Partnership struct {
	id        ID
	state     State
	requester domain.AccountID
	partner   domain.AccountID
	typ       Type
	notify    []domain.UserID
	shared    domain.Table[device.ID, *share]
	changes   []domain.Event
}

// New returns the partnership of two accounts before anything happened.
func New(a, b domain.AccountID) *Partnership {
	return &Partnership{id: IDOf(a, b)}
}

// FromHistory rebuilds the partnership of a and b from its stored events.
func FromHistory(a, b domain.AccountID, history []domain.Event) *Partnership {
	p := New(a, b)
	for _, e := range history {
		p.apply(e)
	}
	return p
}

// ID is the partnership's identifier.
func (p *Partnership) ID() ID { return p.id }

// State is where the partnership stands.
func (p *Partnership) State() State { return p.state }

// Changes lists the events recorded since the partnership was loaded.
func (p *Partnership) Changes() []domain.Event { return p.changes }

// Request asks partner for a partnership; the people in notify get an
// e-mail, with the requester's message if there is one. typ is what the
// partner is to the requester (its rental agency, subcontractor or
// contractor), own what the requester is to the partner (zero: the
// counterpart of typ).
func (p *Partnership) Request(by domain.Member, partner domain.AccountID, typ, own Type, notify []domain.UserID, message string) error {
	message, err := domain.OptionalText("message", message, domain.MaxText)
	if err != nil {
		return err
	}
	if err := by.RequireAdmin("request partnerships"); err != nil {
		return err
	}
	if partner == by.Account {
		return ErrSelf
	}
	if typ == (Type{}) {
		return domain.Invalidf("invalid-partner-type", "a partner type is required: rental, subcontractor or contractor")
	}
	if own == (Type{}) {
		own = typ.Counterpart()
	}
	if !slices.Contains(counterparts[typ], own) {
		return ErrPartnerTypes.Withf("an account cannot be the %s of its %s: to a %s an account is one of %v", own, typ, typ, counterparts[typ])
	}
	switch p.state {
	case Pending:
		return ErrAlreadyRequested.Withf("a partnership request between %s and %s is already pending", by.Account, partner)
	case Approved:
		return ErrAlreadyPartners.Withf("%s and %s are already partners", by.Account, partner)
	}
	p.record(PartnerRequested{Partnership: p.id, Requester: by.Account, Partner: partner, Type: typ, RequesterType: own, Notify: notify, Message: message, By: by.User})
	return nil
}

// CanAnswer says whether a member may approve or decline the pending
// request: anyone at the partner account when nobody was named, otherwise the
// people named and the partner's administrators.
func (p *Partnership) CanAnswer(by domain.Member) error {
	if p.state != Pending {
		return ErrNotPending
	}
	if by.Account == p.requester {
		return ErrOwnRequest
	}
	if by.Account != p.partner {
		return ErrNotPartner
	}
	if MayAnswer(p.notify, by) {
		return nil
	}
	return ErrNotApprover.Withf("the request names other people to answer it; %s is neither one of them nor an administrator of %s", by.User, by.Account)
}

// MayAnswer says whether a member of the partner account may answer a
// request that named the people in notify: anyone there when nobody was
// named, otherwise those named and the account's administrators. The
// Partners page asks it to show who can approve.
func MayAnswer(notify []domain.UserID, by domain.Member) bool {
	return len(notify) == 0 || by.Admin || slices.Contains(notify, by.User)
}

// Approve accepts the pending request.
func (p *Partnership) Approve(by domain.Member) error {
	if err := p.CanAnswer(by); err != nil {
		return err
	}
	p.record(PartnerApproved{Partnership: p.id, Requester: p.requester, Partner: p.partner, By: by.User})
	return nil
}

// Decline refuses the pending request.
func (p *Partnership) Decline(by domain.Member) error {
	if err := p.CanAnswer(by); err != nil {
		return err
	}
	p.record(PartnerDeclined{Partnership: p.id, Requester: p.requester, Partner: p.partner, By: by.User})
	return nil
}

// Withdraw takes back the caller's own pending request.
func (p *Partnership) Withdraw(by domain.Member) error {
	if p.state != Pending {
		return ErrNotPending
	}
	if by.Account != p.requester {
		return ErrNotRequester
	}
	if err := by.RequireAdmin("withdraw partnership requests"); err != nil {
		return err
	}
	p.record(PartnerRequestWithdrawn{Partnership: p.id, Requester: p.requester, Partner: p.partner, By: by.User})
	return nil
}

// End finishes an approved partnership: every shared device leaves the
// partner's projects and stops being shared.
func (p *Partnership) End(by domain.Member) error {
	if err := p.requireParty(by); err != nil {
		return err
	}
	if p.state != Approved {
		return ErrNotApproved
	}
	if err := by.RequireAdmin("end partnerships"); err != nil {
		return err
	}
	for _, id := range p.sharedIDs() {
		p.unshare(id, device.ReasonPartnershipEnded)
	}
	p.record(PartnershipEnded{Partnership: p.id, Requester: p.requester, Partner: p.partner, By: by.User})
	return nil
}

// Owned is a device the command layer has checked the caller's account owns.
type Owned struct {
	ID    device.ID
	Owner domain.AccountID
}

// Share lends the caller's devices to the other account of the partnership.
func (p *Partnership) Share(by domain.Member, devices []Owned) error {
	if err := p.requireParty(by); err != nil {
		return err
	}
	if p.state != Approved {
		return ErrNotApproved.Withf("devices can only be shared within an approved partnership; this one is %s", p.stateName())
	}
	if err := by.RequireAdmin("share devices"); err != nil {
		return err
	}
	if len(devices) == 0 {
		return ErrNoDevices
	}
	other := p.other(by.Account)
	seen := map[device.ID]bool{}
	var events []domain.Event
	for _, d := range devices {
		if d.Owner != by.Account {
			return device.ErrNotOwner.Withf("device %s belongs to account %s; only its owner may share it", d.ID, d.Owner)
		}
		if p.shared.Has(d.ID) {
			return ErrAlreadyShared.Withf("device %s is already shared with %s", d.ID, other)
		}
		if seen[d.ID] {
			continue
		}
		seen[d.ID] = true
		events = append(events, DeviceSharedWithPartner{Partnership: p.id, Device: d.ID, Owner: by.Account, Partner: other, By: by.User})
	}
	for _, e := range events {
		p.record(e)
	}
	return nil
}

// Unshare takes the caller's devices back, out of the partner's projects.
func (p *Partnership) Unshare(by domain.Member, devices []device.ID) error {
	if err := p.requireParty(by); err != nil {
		return err
	}
	if err := by.RequireAdmin("unshare devices"); err != nil {
		return err
	}
	if len(devices) == 0 {
		return ErrNoDevices
	}
	for _, id := range devices {
		s, ok := p.shared.Get(id)
		if !ok || s.owner != by.Account {
			return ErrNotShared.Withf("device %s is not a device of %s shared in this partnership", id, by.Account)
		}
	}
	for _, id := range devices {
		if p.shared.Has(id) {
			p.unshare(id, device.ReasonUnshared)
		}
	}
	return nil
}

// Release takes back a device its owner deleted, out of the partner's
// projects. The deletion was decided on the device's stream, so anyone
// acting on the owner's behalf may release it; a device not shared here
// (released already, or never) changes nothing.
func (p *Partnership) Release(owner domain.AccountID, id device.ID) {
	if s, ok := p.shared.Get(id); ok && s.owner == owner {
		p.unshare(id, device.ReasonDeviceDeleted)
	}
}

// SharedWith returns the partner's use of a device shared with acc.
func (p *Partnership) sharedWith(acc domain.AccountID, id device.ID) (*share, error) {
	s, ok := p.shared.Get(id)
	if !ok || s.owner == acc || p.state != Approved {
		return nil, ErrNotShared.Withf("device %s is not shared with account %s", id, acc)
	}
	return s, nil
}

// IsSharedWith says whether device id is shared with acc in this partnership.
func (p *Partnership) IsSharedWith(acc domain.AccountID, id device.ID) bool {
	_, err := p.sharedWith(acc, id)
	return err == nil
}

// Assign puts a shared device into one of the partner's own projects; the
// partner is the caller's loaded account, which proves the project is theirs.
func (p *Partnership) Assign(by domain.Member, partner *account.Account, id device.ID, project account.ProjectID) error {
	s, err := p.sharedWith(by.Account, id)
	if err != nil {
		return err
	}
	if err := partner.RequireProject(project); err != nil {
		return err
	}
	e, err := s.use.Assign(id, by.Account, project)
	if err != nil {
		return err
	}
	p.record(e)
	return nil
}

// Unassign takes a shared device out of one of the partner's projects.
func (p *Partnership) Unassign(by domain.Member, id device.ID, project account.ProjectID) error {
	s, err := p.sharedWith(by.Account, id)
	if err != nil {
		return err
	}
	e, err := s.use.Unassign(id, by.Account, project, device.ReasonUnassigned)
	if err != nil {
		return err
	}
	p.record(e)
	return nil
}

// SendDesign transfers a design to a shared device in one of the partner's
// projects: data transfer works on shared devices just as on one's own.
func (p *Partnership) SendDesign(by domain.Member, id device.ID, project account.ProjectID, design string) error {
	s, err := p.sharedWith(by.Account, id)
	if err != nil {
		return err
	}
	e, err := s.use.SendDesign(id, by, project, design)
	if err != nil {
		return err
	}
	p.record(e)
	return nil
}

// StartBaseStation is refused for shared devices: IBSS is not supported.
func (p *Partnership) StartBaseStation(by domain.Member, id device.ID) error {
	if _, err := p.sharedWith(by.Account, id); err != nil {
		return err
	}
	return ErrBaseStationShared
}

func (p *Partnership) unshare(id device.ID, reason string) {
	s, _ := p.shared.Get(id)
	projects := s.use.Projects()
	sort.Slice(projects, func(i, j int) bool { return projects[i] < projects[j] })
	other := p.other(s.owner)
	for _, project := range projects {
		p.record(device.DeviceUnassignedFromProject{Device: id, Account: other, Project: project, Reason: reason})
	}
	p.record(DeviceUnsharedFromPartner{Partnership: p.id, Device: id, Owner: s.owner, Partner: other, Reason: reason})
}

func (p *Partnership) sharedIDs() []device.ID {
	ids := make([]device.ID, 0, p.shared.Len())
	for id := range p.shared.All() {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func (p *Partnership) requireParty(by domain.Member) error {
	if p.state == None || (by.Account != p.requester && by.Account != p.partner) {
		return ErrNotPartner
	}
	return nil
}

func (p *Partnership) other(acc domain.AccountID) domain.AccountID {
	if acc == p.requester {
		return p.partner
	}
	return p.requester
}

func (p *Partnership) stateName() string {
	if p.state == None {
		return "not requested"
	}
	return string(p.state)
}

func (p *Partnership) record(e domain.Event) {
	p.apply(e)
	p.changes = append(p.changes, e)
}

// use folds a usage event into a shared device's share. Shares are never
// changed in place, only replaced, so a clone may share them (Clone copies
// the table, not a share).
func (p *Partnership) use(id device.ID, e domain.Event) {
	s, ok := p.shared.Get(id)
	if !ok {
		return
	}
	u := s.use.Clone()
	u.Apply(e)
	p.shared.Set(id, &share{owner: s.owner, use: u})
}

func (p *Partnership) apply(e domain.Event) {
	switch e := e.(type) {
	case PartnerRequested:
		p.state, p.requester, p.partner, p.typ, p.notify = Pending, e.Requester, e.Partner, e.Type, e.Notify
	case PartnerApproved:
		p.state = Approved
	case PartnerDeclined:
		p.state = Declined
	case PartnerRequestWithdrawn:
		p.state = Withdrawn
	case PartnershipEnded:
		p.state = Ended
	case DeviceSharedWithPartner:
		p.shared.Set(e.Device, &share{owner: e.Owner})
	case DeviceUnsharedFromPartner:
		p.shared.Delete(e.Device)
	case device.DeviceAssignedToProject:
		p.use(e.Device, e)
	case device.DeviceUnassignedFromProject:
		p.use(e.Device, e)
	}
}
