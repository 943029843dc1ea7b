package partnership

import (
	"encoding/json"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/device"
)

// PartnerRequested: an account asked another to become its partner.
// Version 2 added Message; version 1 events are upcast with an empty one.
type PartnerRequested struct {
	Partnership ID               `json:"partnership"`
	Requester   domain.AccountID `json:"requester"`
	Partner     domain.AccountID `json:"partner"`
	// Type is what the partner is to the requester; RequesterType what the
	// requester is to the partner (version 3; earlier versions read as the
	// counterpart of Type).
	Type          Type            `json:"type"`
	RequesterType Type            `json:"requesterType"`
	Notify        []domain.UserID `json:"notify"`
	Message       string          `json:"message"`
	By            domain.UserID   `json:"by"`
}

// PartnerRequestedV1 is PartnerRequested as version 1 stored it: without a
// message, and with only what the partner is to the requester.
type PartnerRequestedV1 struct {
	Partnership ID               `json:"partnership"`
	Requester   domain.AccountID `json:"requester"`
	Partner     domain.AccountID `json:"partner"`
	Type        Type             `json:"type"`
	Notify      []domain.UserID  `json:"notify"`
	By          domain.UserID    `json:"by"`
}

// PartnerRequestedV2 is PartnerRequested as version 2 stored it: with a
// message, and with only what the partner is to the requester.
type PartnerRequestedV2 struct {
	Partnership ID               `json:"partnership"`
	Requester   domain.AccountID `json:"requester"`
	Partner     domain.AccountID `json:"partner"`
	Type        Type             `json:"type"`
	Notify      []domain.UserID  `json:"notify"`
	Message     string           `json:"message"`
	By          domain.UserID    `json:"by"`
}

func (PartnerRequestedV1) EventType() string { return "PartnerRequested" }
func (PartnerRequestedV1) EventVersion() int { return 1 }
func (PartnerRequestedV2) EventType() string { return "PartnerRequested" }
func (PartnerRequestedV2) EventVersion() int { return 2 }

// PartnerApproved: the partner accepted the request.
type PartnerApproved struct {
	Partnership ID               `json:"partnership"`
	Requester   domain.AccountID `json:"requester"`
	Partner     domain.AccountID `json:"partner"`
	By          domain.UserID    `json:"by"`
}

// PartnerDeclined: the partner refused the request.
type PartnerDeclined PartnerApproved

// PartnerRequestWithdrawn: the requester took its request back.
type PartnerRequestWithdrawn PartnerApproved

// PartnershipEnded: one side ended an approved partnership.
type PartnershipEnded PartnerApproved

// DeviceSharedWithPartner: the owner lent a device to its partner.
type DeviceSharedWithPartner struct {
	Partnership ID               `json:"partnership"`
	Device      device.ID        `json:"device"`
	Owner       domain.AccountID `json:"owner"`
	Partner     domain.AccountID `json:"partner"`
	By          domain.UserID    `json:"by"`
}

// DeviceUnsharedFromPartner: the device is no longer shared, because the
// owner took it back or the partnership ended.
type DeviceUnsharedFromPartner struct {
	Partnership ID               `json:"partnership"`
	Device      device.ID        `json:"device"`
	Owner       domain.AccountID `json:"owner"`
	Partner     domain.AccountID `json:"partner"`
	Reason      string           `json:"reason"`
}

func (PartnerRequested) EventType() string          { return "PartnerRequested" }
func (PartnerRequested) EventVersion() int          { return 3 }
func (PartnerApproved) EventType() string           { return "PartnerApproved" }
func (PartnerApproved) EventVersion() int           { return 1 }
func (PartnerDeclined) EventType() string           { return "PartnerDeclined" }
func (PartnerDeclined) EventVersion() int           { return 1 }
func (PartnerRequestWithdrawn) EventType() string   { return "PartnerRequestWithdrawn" }
func (PartnerRequestWithdrawn) EventVersion() int   { return 1 }
func (PartnershipEnded) EventType() string          { return "PartnershipEnded" }
func (PartnershipEnded) EventVersion() int          { return 1 }
func (DeviceSharedWithPartner) EventType() string   { return "DeviceSharedWithPartner" }
func (DeviceSharedWithPartner) EventVersion() int   { return 1 }
func (DeviceUnsharedFromPartner) EventType() string { return "DeviceUnsharedFromPartner" }
func (DeviceUnsharedFromPartner) EventVersion() int { return 1 }

// RegisterEvents adds the partnership's events to a registry.
func RegisterEvents(r *domain.Registry) {
	domain.Register[PartnerRequested](r)
	domain.Past[PartnerRequestedV1](r)
	domain.Past[PartnerRequestedV2](r)
	r.Upcast("PartnerRequested", 1, addField("message", ""))
	r.Upcast("PartnerRequested", 2, addRequesterType)
	domain.Register[PartnerApproved](r)
	domain.Register[PartnerDeclined](r)
	domain.Register[PartnerRequestWithdrawn](r)
	domain.Register[PartnershipEnded](r)
	domain.Register[DeviceSharedWithPartner](r)
	domain.Register[DeviceUnsharedFromPartner](r)
}

// addRequesterType upcasts a request of version 2, which named only what
// the partner is to the requester, with the counterpart of that type.
func addRequesterType(data []byte) ([]byte, error) {
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	name, _ := v["type"].(string)
	t, err := ParseType(name)
	if err != nil {
		return nil, err
	}
	v["requesterType"] = t.Counterpart().String()
	return json.Marshal(v)
}

// addField upcasts by adding a field with a default value.
func addField(name string, value any) domain.Upcaster {
	return func(data []byte) ([]byte, error) {
		var v map[string]any
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, err
		}
		if _, ok := v[name]; !ok {
			v[name] = value
		}
		return json.Marshal(v)
	}
}
