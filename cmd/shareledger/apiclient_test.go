package main

import (
	"context"
	"net/http"
	"testing"

	"github.com/shareledger/shareledger/readapi/apiclient"
)

// TestTheGeneratedClientDrivesThePartnershipFlow: a Go client generated
// from the OpenAPI description alone (readapi/apiclient) opens two
// accounts, makes them partners, shares a device and sees it arrive.
func TestTheGeneratedClientDrivesThePartnershipFlow(t *testing.T) {
	s := start(t, testConfig(t, backends[0]))
	ctx := context.Background()
	as := func(user, account string) *apiclient.ClientWithResponses {
		token := s.as(user, account).token
		c, err := apiclient.NewClientWithResponses(s.base, apiclient.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+token)
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	alice, bob := as("alice@acme.test", "acme"), as("bob@rentco.test", "rentco")
	r1, err := alice.OpenAccountWithResponse(ctx, nil, apiclient.OpenAccountJSONRequestBody{Organization: "ACME", Name: "Alice"})
	succeeded(t, "ACME opens", r1, err)
	r2, err := bob.OpenAccountWithResponse(ctx, nil, apiclient.OpenAccountJSONRequestBody{Organization: "RentCo", Name: "Bob"})
	succeeded(t, "RentCo opens", r2, err)
	r3, err := alice.RequestPartnerWithResponse(ctx, nil, apiclient.RequestPartnerJSONRequestBody{Organization: "RentCo", Type: apiclient.Rental})
	succeeded(t, "ACME asks RentCo", r3, err)
	r4, err := bob.ApprovePartnerWithResponse(ctx, "ACME", nil)
	succeeded(t, "RentCo approves", r4, err)
	r5, err := bob.RegisterDeviceWithResponse(ctx, nil, apiclient.RegisterDeviceJSONRequestBody{Serial: "S1", Name: "Rover"})
	succeeded(t, "RentCo registers a device", r5, err)
	device := *r5.JSON201.Id
	r6, err := bob.ShareDevicesWithPartnerWithResponse(ctx, "ACME", nil, apiclient.ShareDevicesWithPartnerJSONRequestBody{Devices: []apiclient.ID{device}})
	succeeded(t, "RentCo shares it", r6, err)
	pos := r6.JSON200.Position
	devices, err := alice.ListMyDevicesWithResponse(ctx, &apiclient.ListMyDevicesParams{Position: &pos})
	succeeded(t, "ACME's devices", devices, err)
	if items := devices.JSON200.Items; len(items) != 1 || items[0].Id != device || items[0].Source != apiclient.DeviceSourceSharedIn || items[0].Owner.Organization != "RentCo" {
		t.Fatalf("ACME's devices: %s", devices.Body)
	}
	partners, err := alice.ListPartnersWithResponse(ctx, &apiclient.ListPartnersParams{Position: &pos})
	succeeded(t, "ACME's partners", partners, err)
	if items := partners.JSON200.Items; len(items) != 1 || items[0].State != "approved" || items[0].DevicesReceived != 1 {
		t.Fatalf("ACME's partners: %s", partners.Body)
	}
	// A refusal arrives as the description's problem document.
	again, err := alice.RequestPartnerWithResponse(ctx, nil, apiclient.RequestPartnerJSONRequestBody{Organization: "RentCo", Type: apiclient.Rental})
	if err != nil {
		t.Fatal(err)
	}
	if again.ApplicationproblemJSON409 == nil || again.ApplicationproblemJSON409.Code != "already-partners" {
		t.Fatalf("asking again: %d %s", again.StatusCode(), again.Body)
	}
}

// succeeded fails the test unless a generated client's call answered 2xx.
func succeeded(t *testing.T, what string, r interface{ StatusCode() int }, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if r.StatusCode()/100 != 2 {
		t.Fatalf("%s: %d", what, r.StatusCode())
	}
}
